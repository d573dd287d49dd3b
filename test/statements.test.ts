import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { completeLine, sqlName } from '../src/cli/repl-complete.js';
import { leadingWord, splitStatements, StatementReader, tokenize } from '../src/cli/statements.js';

describe('statement splitting', () => {
  it('tokens give the text back, and know open quotes and comments', () => {
    const text = `SELECT 'it''s;' AS "a ""b""", E'\\'x;', $$;$$, $tag$ ; $tag$, $1 -- c;\n/* ; */ FROM t;`;
    assert.equal(tokenize(text).map((t) => t.text).join(''), text);
    assert.deepEqual(splitStatements(text).statements.length, 1);
    for (const open of [`SELECT 'abc`, `SELECT "ab`, `SELECT /* x`, `SELECT $$ x`, `SELECT E'\\'`]) {
      assert.equal(tokenize(open).at(-1)!.closed, false, open);
      assert.equal(splitStatements(open).open, true, open);
    }
  });

  it('splits at ";" outside quotes and comments, drops empty statements and comments', () => {
    assert.deepEqual(splitStatements(`SELECT 1; ; SELECT ';' AS s -- a ; b\n; SELECT 3`), {
      statements: ['SELECT 1', `SELECT ';' AS s  \n`.trim()],
      rest: ' SELECT 3',
      open: false,
    });
    assert.deepEqual(splitStatements('SELECT 1; -- only a comment'), { statements: ['SELECT 1'], rest: '', open: false });
  });

  it('the first word, with or without a leading "."', () => {
    assert.equal(leadingWord('  .schema'), 'SCHEMA');
    assert.equal(leadingWord('-- hi\ncommit x'), 'COMMIT');
    assert.equal(leadingWord(`'x'`), '');
  });

  it('reads lines into statements: ";", a blank line, commands end with their line', () => {
    const reader = new StatementReader((s) => leadingWord(s) === 'COUNT');
    assert.deepEqual(reader.feed('SELECT a,'), { statements: [] });
    assert.ok(reader.pending);
    assert.deepEqual(reader.feed("  'x;' AS b -- note"), { statements: [] });
    assert.deepEqual(reader.feed('FROM t; COUNT'), { statements: ["SELECT a,\n  'x;' AS b  \nFROM t", 'COUNT'], history: "SELECT a, 'x;' AS b FROM t; COUNT" });
    assert.ok(!reader.pending);
    assert.deepEqual(reader.feed('SELECT 1'), { statements: [] });
    assert.deepEqual(reader.feed(''), { statements: ['SELECT 1'], history: 'SELECT 1;' });
    assert.deepEqual(reader.feed(''), { statements: [] }, 'a blank line alone is nothing');
    // a blank line inside a string belongs to it
    reader.feed(`SELECT 'a`);
    assert.deepEqual(reader.feed(''), { statements: [] });
    assert.deepEqual(reader.feed(`b';`), { statements: [`SELECT 'a\n\nb'`], history: `SELECT 'a\n\nb';` });
    reader.feed('SELECT 2');
    reader.discard();
    assert.ok(!reader.pending);
    reader.feed('SELECT 3');
    assert.deepEqual(reader.end(), ['SELECT 3']);
  });
});

describe('REPL Tab completion', () => {
  const names = { columns: ['Sales Region', 'amount', 'Year', 'order'], tables: ['bundle', 'by_region'] };
  const commands = ['SCHEMA', 'SHOW', 'COUNT'];

  it('quotes names SQL needs quoted', () => {
    assert.deepEqual(['amount', 'Sales Region', 'Year', 'order', 'a"b'].map(sqlName), ['amount', '"Sales Region"', '"Year"', '"order"', '"a""b"']);
    assert.deepEqual(completeLine('SELECT Sa', false, names, commands), [['"Sales Region"'], 'Sa']);
    assert.deepEqual(completeLine('SELECT y', false, names, commands), [['"Year"'], 'y']);
    assert.deepEqual(completeLine('SELECT max("sa', false, names, commands), [['"Sales Region"'], '"sa']);
    assert.deepEqual(completeLine("SELECT 'Sa", false, names, commands), [[], ''], 'nothing inside a string');
  });

  it('commands at the start of a statement, keywords in the case typed, views', () => {
    assert.deepEqual(completeLine('sch', false, names, commands), [['schema'], 'sch']);
    assert.deepEqual(completeLine('.sh', false, names, commands), [['.show'], '.sh']);
    assert.deepEqual(completeLine('SELECT 1; SCH', false, names, commands)[0], ['SCHEMA']);
    assert.deepEqual(completeLine('SCH', true, names, commands)[0], [], 'a continued statement has no commands');
    assert.deepEqual(completeLine('SELECT * FRO', false, names, commands), [['FROM'], 'FRO']);
    assert.deepEqual(completeLine('select * from by', false, names, commands), [['by_region', 'by'], 'by']);
  });
});
