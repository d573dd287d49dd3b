// Unit tests of the SQL text helpers (src/plan/sql.ts): pure string functions, no DuckDB.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mapCode, maskQuoted, maxParamIndex, quoteIdent, quoteLiteral, renumberParams } from '../src/plan/sql.js';

describe('quoteIdent', () => {
  it('wraps a plain name in double quotes', () => {
    assert.equal(quoteIdent('age'), '"age"');
    assert.equal(quoteIdent('Country'), '"Country"', 'case is kept');
  });

  it('doubles embedded double quotes, including leading, trailing and consecutive ones', () => {
    assert.equal(quoteIdent('a"b'), '"a""b"');
    assert.equal(quoteIdent('"'), '""""');
    assert.equal(quoteIdent('""x""'), '"""""x"""""');
    assert.equal(quoteIdent('say "hi"'), '"say ""hi"""');
  });

  it('leaves single quotes, spaces, dollars, backslashes and SQL text as they are', () => {
    assert.equal(quoteIdent("it's"), `"it's"`);
    assert.equal(quoteIdent('a b'), '"a b"');
    assert.equal(quoteIdent('$1'), '"$1"');
    assert.equal(quoteIdent('a\\b'), '"a\\b"');
    assert.equal(quoteIdent('x"; DROP TABLE t; --'), '"x""; DROP TABLE t; --"');
  });

  it('keeps unicode as is (accents, CJK, emoji outside the BMP)', () => {
    assert.equal(quoteIdent('naïve'), '"naïve"');
    assert.equal(quoteIdent('名前'), '"名前"');
    assert.equal(quoteIdent('📦"box'), '"📦""box"');
  });

  it('quotes the empty name as ""', () => {
    assert.equal(quoteIdent(''), '""');
  });

  it('every result is one complete quoted identifier: masking it leaves only blanks', () => {
    for (const name of ['', 'a', 'a"b', '"', '-- x', '/* y */', "'", '名前', 'x\ny']) {
      const quoted = quoteIdent(name);
      assert.equal(maskQuoted(quoted).trim(), '', `quoteIdent(${JSON.stringify(name)}) = ${quoted}`);
      assert.equal(maskQuoted(`${quoted} + 1`), `${' '.repeat(quoted.length)} + 1`, 'and nothing after it is swallowed');
    }
  });
});

describe('quoteLiteral', () => {
  it('wraps text in single quotes', () => {
    assert.equal(quoteLiteral('abc'), "'abc'");
    assert.equal(quoteLiteral(''), "''");
  });

  it('doubles embedded single quotes', () => {
    assert.equal(quoteLiteral("O'Brien"), "'O''Brien'");
    assert.equal(quoteLiteral("'"), "''''");
    assert.equal(quoteLiteral("''"), "''''''");
    assert.equal(quoteLiteral("x'; DROP TABLE t; --"), "'x''; DROP TABLE t; --'");
  });

  it('leaves backslashes alone (standard SQL strings have no backslash escapes)', () => {
    assert.equal(quoteLiteral('a\\b'), "'a\\b'");
    assert.equal(quoteLiteral('\\'), "'\\'");
    assert.equal(quoteLiteral("\\'"), "'\\'''", 'a backslash before a quote does not escape it');
  });

  it('keeps newlines, tabs, double quotes and unicode as they are', () => {
    assert.equal(quoteLiteral('line 1\nline 2\r\n\tend'), "'line 1\nline 2\r\n\tend'");
    assert.equal(quoteLiteral('say "hi"'), `'say "hi"'`);
    assert.equal(quoteLiteral('héllo 名前 📦'), "'héllo 名前 📦'");
  });

  it('every result is one complete literal: masking it leaves only blanks', () => {
    for (const text of ['', "'", "a'b", '\\', "\\'", '-- x', '/* y', '$1', '\n', '"']) {
      const quoted = quoteLiteral(text);
      assert.equal(maskQuoted(`${quoted} $1`), `${' '.repeat(quoted.length)} $1`, `quoteLiteral(${JSON.stringify(text)}) = ${quoted}`);
    }
  });
});

describe('renumberParams', () => {
  it('shifts every $n by the offset', () => {
    assert.equal(renumberParams('a = $1 AND b = $2', 2), 'a = $3 AND b = $4');
    assert.equal(renumberParams('$1+$1', 1), '$2+$2', 'a repeated reference is shifted each time');
    assert.equal(renumberParams('x IN ($2, $1)', 10), 'x IN ($12, $11)');
  });

  it('shifts multi-digit parameters as one number', () => {
    assert.equal(renumberParams('$10 + $9', 1), '$11 + $10');
    assert.equal(renumberParams('$99', 1), '$100');
  });

  it('returns the text unchanged for offset 0', () => {
    const sql = `a = $1 AND b = '$2' -- $3`;
    assert.equal(renumberParams(sql, 0), sql);
  });

  it('leaves $n inside string literals alone, doubled quotes included', () => {
    assert.equal(renumberParams(`name <> '$1' AND id < $1`, 3), `name <> '$1' AND id < $4`);
    assert.equal(renumberParams(`'it''s $1' || $1`, 1), `'it''s $1' || $2`);
    assert.equal(renumberParams(`'' || $1 || ''`, 1), `'' || $2 || ''`, 'empty literals');
  });

  it('leaves $n inside quoted identifiers alone', () => {
    assert.equal(renumberParams(`"$1" = $1`, 1), `"$1" = $2`);
    assert.equal(renumberParams(`"a""$1" = $1`, 1), `"a""$1" = $2`);
    assert.equal(renumberParams(`"it's $1" = $1`, 1), `"it's $1" = $2`, 'a single quote inside an identifier opens nothing');
    assert.equal(renumberParams(`'say "$1"' = $1`, 1), `'say "$1"' = $2`, 'a double quote inside a literal opens nothing');
  });

  it('leaves $n inside line comments alone, and resumes after the newline', () => {
    assert.equal(renumberParams('a = $1 -- was $1\nAND b = $2', 1), 'a = $2 -- was $1\nAND b = $3');
    assert.equal(renumberParams('a = $1 -- trailing $1', 1), 'a = $2 -- trailing $1');
  });

  it('leaves $n inside block comments alone, and resumes after */', () => {
    assert.equal(renumberParams('/* $1 */ $1 /* $2\n$3 */ $2', 1), '/* $1 */ $2 /* $2\n$3 */ $3');
    assert.equal(renumberParams('$1 /* unterminated $1', 1), '$2 /* unterminated $1');
  });

  it('treats an unterminated literal or identifier as running to the end', () => {
    assert.equal(renumberParams(`$1 || 'open $1`, 1), `$2 || 'open $1`);
    assert.equal(renumberParams(`$1 || "open $1`, 1), `$2 || "open $1`);
  });

  it('does not mistake a single - or / for a comment', () => {
    assert.equal(renumberParams('$1 - $2 / $3', 1), '$2 - $3 / $4');
    assert.equal(renumberParams('$1-$2', 1), '$2-$3');
  });

  it('leaves a bare $ and dollar signs not followed by digits alone', () => {
    assert.equal(renumberParams('$a + $ + $$x$$ + $1', 1), '$a + $ + $$x$$ + $2');
  });
});

describe('mapCode', () => {
  it('applies fn to code only, in order, keeping literals, identifiers and comments verbatim', () => {
    const seen: string[] = [];
    const out = mapCode(`select 'lit' , "Id" -- note\nfrom /* c */ t`, (code) => {
      seen.push(code);
      return code.toUpperCase();
    });
    assert.equal(out, `SELECT 'lit' , "Id" -- note\nFROM /* c */ T`);
    assert.deepEqual(seen, ['select ', ' , ', ' ', '\nfrom ', ' t']);
  });

  it('calls fn for the (possibly empty) code around quoted parts', () => {
    const seen: string[] = [];
    assert.equal(mapCode(`'a'`, (code) => (seen.push(code), code)), `'a'`);
    assert.deepEqual(seen, ['', '']);
  });

  it('calls fn once on text with nothing quoted, and once on the empty string', () => {
    const seen: string[] = [];
    assert.equal(mapCode('a + b', (code) => (seen.push(code), `[${code}]`)), '[a + b]');
    assert.equal(mapCode('', (code) => (seen.push(code), `[${code}]`)), '[]');
    assert.deepEqual(seen, ['a + b', '']);
  });

  it('never passes fn a part of a literal, even with doubled quotes or a comment opener inside', () => {
    const seen: string[] = [];
    mapCode(`x = 'a''b -- c /* d' AND y = "e""f" AND z = 1`, (code) => (seen.push(code), code));
    assert.deepEqual(seen, ['x = ', ' AND y = ', ' AND z = 1']);
  });
});

describe('maskQuoted', () => {
  it('blanks literals, quoted identifiers and comments, quotes and markers included', () => {
    assert.equal(maskQuoted(`a = 'x'`), 'a =    ');
    assert.equal(maskQuoted(`"Col" = 1`), '      = 1');
    assert.equal(maskQuoted(`a /* c */ b`), 'a         b');
    assert.equal(maskQuoted('a -- c\nb'), 'a     \nb', 'the newline ending a line comment is kept');
  });

  it('keeps the length of the text, so positions in the mask are positions in the SQL', () => {
    for (const sql of [`'it''s' "a""b" -- x\n/* y */ z`, `'unterminated`, '/* open', '-- to the end', 'plain', '', '名前 = \'名前\'']) {
      const masked = maskQuoted(sql);
      assert.equal(masked.length, sql.length, sql);
      // every character is either kept in place or blanked
      for (let i = 0; i < sql.length; i++) assert.ok(masked[i] === sql[i] || masked[i] === ' ', `${sql} @${i}`);
    }
    const sql = `WHERE name = 'SELECT' AND SELECT`;
    assert.equal(maskQuoted(sql).indexOf('SELECT'), sql.lastIndexOf('SELECT'));
  });

  it('blanks an unterminated literal or comment to the end', () => {
    assert.equal(maskQuoted(`a 'bc`), 'a    ');
    assert.equal(maskQuoted('a /* bc'), 'a      ');
    assert.equal(maskQuoted('a -- bc'), 'a      ');
  });

  it('leaves code untouched', () => {
    assert.equal(maskQuoted('SELECT a - b / c FROM t WHERE x = $1'), 'SELECT a - b / c FROM t WHERE x = $1');
  });
});

describe('maxParamIndex', () => {
  it('is 0 without parameters', () => {
    assert.equal(maxParamIndex('SELECT 1'), 0);
    assert.equal(maxParamIndex(''), 0);
    assert.equal(maxParamIndex('$a + $'), 0);
  });

  it('is the highest $n, not the count, multi-digit included', () => {
    assert.equal(maxParamIndex('$1'), 1);
    assert.equal(maxParamIndex('$2 + $1 + $2'), 2);
    assert.equal(maxParamIndex('$3'), 3, 'gaps are allowed');
    assert.equal(maxParamIndex('$9 + $10'), 10);
  });

  it('ignores $n in literals, quoted identifiers and comments', () => {
    assert.equal(maxParamIndex(`'$5' = $1`), 1);
    assert.equal(maxParamIndex(`"$5" = $1`), 1);
    assert.equal(maxParamIndex('$1 -- $5'), 1);
    assert.equal(maxParamIndex('/* $5 */ $2'), 2);
    assert.equal(maxParamIndex(`'$1' || "$2" -- $3`), 0);
  });

  it('agrees with renumberParams: shifting by k raises the maximum by k', () => {
    for (const sql of ['$1 + $3', `'$9' || $2 -- $8`, 'none', '$10']) {
      const max = maxParamIndex(sql);
      assert.equal(maxParamIndex(renumberParams(sql, 4)), max === 0 ? 0 : max + 4, sql);
    }
  });
});
