import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { create, open, type BundleBuilder } from '../src/index.js';
import { parseStatements } from '../src/language/parse.js';
import { expectError, tempDir, writeFixture } from './helpers.js';

let dir: string;
const files = { people: '', semi: '', regions: '', people2: '' };

before(async () => {
  dir = await tempDir();
  files.people = await writeFixture(path.join(dir, 'people.csv'), `SELECT i AS id, i % 90 AS age, 'p' || i AS name, 'ssn-' || i AS ssn FROM range(30) t(i)`);
  files.people2 = await writeFixture(path.join(dir, 'people2.csv'), `SELECT i AS id, i % 90 AS age, 'q' || i AS name, 'ssn-' || i AS ssn FROM range(30, 40) t(i)`);
  files.semi = path.join(dir, 'semi.csv');
  await import('node:fs/promises').then((fs) => fs.writeFile(files.semi, 'id;age;name;ssn\n100;50;x;s\n101;51;y;t\n'));
  files.regions = await writeFixture(path.join(dir, 'regions.csv'), `SELECT i AS id, 'region-' || (i % 3) AS region FROM range(40) t(i)`);
});

/**
 * Every write statement of the language beside the builder call doing the same; run in order on
 * one bundle (the statements' texts are single lines, so the REPL can type them).
 */
function languageSteps(): { sql: string; apply: (b: BundleBuilder) => PromiseLike<unknown> }[] {
  return [
    { sql: `ATTACH '${files.people}'`, apply: (b) => b.attach(files.people) },
    { sql: `ATTACH '${files.semi}' WITH (delimiter = ';', header = true)`, apply: (b) => b.attach(files.semi, { delimiter: ';', header: true }) },
    { sql: `SET NAME 'people'`, apply: (b) => b.setName('people') },
    { sql: `SET DESCRIPTION 'it''s people'`, apply: (b) => b.setDescription("it's people") },
    { sql: `SET CONFIG s3.region = 'eu-west-1' FOR 's3://bucket/'`, apply: (b) => b.setConfig('s3.region', 'eu-west-1', 's3://bucket/') },
    { sql: 'FILTER WHERE age >= 1', apply: (b) => b.filter('age >= 1') },
    { sql: 'DELETE FROM bundle WHERE id = 3', apply: (b) => b.delete('id = 3') },
    { sql: 'ALWAYS DELETE FROM bundle WHERE id = 4', apply: (b) => b.delete('id = 4', [], { always: true }) },
    { sql: `UPDATE bundle SET name = upper(name), age = age + 1 WHERE id < 10`, apply: (b) => b.update({ name: 'upper(name)', age: 'age + 1' }, 'id < 10') },
    { sql: `ALWAYS UPDATE bundle SET ssn = 'hidden' WHERE id = 5`, apply: (b) => b.update({ ssn: "'hidden'" }, 'id = 5', [], { always: true }) },
    { sql: 'ADD COLUMN double_age AS age * 2', apply: (b) => b.addColumn('double_age', 'age * 2') },
    { sql: 'CAST COLUMN double_age TO BIGINT', apply: (b) => b.castColumn('double_age', 'BIGINT') },
    { sql: `CAST COLUMN ssn TO INTEGER CLEAN '[^0-9]' LENIENT`, apply: (b) => b.castColumn('ssn', 'INTEGER', { lenient: true, clean: '[^0-9]' }) },
    { sql: 'RENAME COLUMN name TO "Full Name"', apply: (b) => b.renameColumn('name', 'Full Name') },
    { sql: 'NORMALIZE COLUMN NAMES', apply: (b) => b.normalizeColumnNames() },
    { sql: 'DROP COLUMN ssn', apply: (b) => b.removeColumns(['ssn']) },
    { sql: `LEFT JOIN '${files.regions}' AS regions ON $base.id = regions.id`, apply: (b) => b.join('regions', files.regions, '$base.id = regions.id', 'left') },
    { sql: 'CREATE VIEW adults AS SELECT * FROM bundle WHERE age >= 18', apply: async (b) => b.createView('adults', await b.select('SELECT * FROM bundle WHERE age >= 18')) },
    { sql: 'RENAME VIEW adults TO grown', apply: (b) => b.renameView('adults', 'grown') },
    { sql: 'CREATE INDEX ON id', apply: (b) => b.createIndex('id') },
    { sql: 'REBUILD INDEX ON id', apply: (b) => b.rebuildIndex('id') },
    { sql: `COMMIT 'first'`, apply: (b) => b.commit('first') },
    { sql: `REPLACE '${files.people}' WITH '${files.people2}'`, apply: (b) => b.replace(files.people, files.people2) },
    { sql: `DETACH '${files.semi}'`, apply: (b) => b.detach(files.semi) },
    { sql: 'REINDEX', apply: (b) => b.reindex() },
    { sql: 'DROP VIEW grown', apply: (b) => b.dropView('grown') },
    { sql: 'DROP INDEX id', apply: (b) => b.dropIndex('id') },
    { sql: 'UNDO', apply: (b) => b.undo() },
    { sql: `COMMIT 'second'`, apply: (b) => b.commit('second') },
    { sql: 'SET NAME \'temporary\'', apply: (b) => b.setName('temporary') },
    { sql: 'RESET', apply: (b) => b.reset() },
    { sql: 'RESTORE 1', apply: (b) => b.restore(1) },
    { sql: `COMMIT 'third'`, apply: (b) => b.commit('third') },
  ];
}

/**
 * The bundle's manifests (its own and its views'), with what differs between two runs of the
 * same work made equal: ids, uuids, timestamps, version hashes.
 */
async function normalizedManifests(bundle: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (at: string) => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.name.endsWith('.yaml') && path.basename(at) === '_bundlebase') found.push(await readFile(full, 'utf8'));
    }
  };
  await walk(bundle);
  return found
    .map((text) =>
      text
        .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')
        // (YAML quotes an id that happens to be all digits)
        .replace(/"?(?<![0-9a-f])[0-9a-f]{8}(?![0-9a-f])"?/g, '<id>')
        .replace(/"?\b[0-9a-f]{12}\b"?/g, '<version>')
        .replace(/timestamp: .*/g, 'timestamp: <t>'),
    )
    .sort();
}

let byApi: Promise<string[]> | undefined;

/** The manifests of the steps done through the builder API (once per run). */
function builderManifests(): Promise<string[]> {
  byApi ??= (async () => {
    const bundle = path.join(dir, 'by-api');
    const b = await create(bundle);
    for (const step of languageSteps()) await step.apply(b);
    await b.close();
    return normalizedManifests(bundle);
  })();
  return byApi;
}

const BIN = path.resolve('dist/cli/main.js');
const run = promisify(execFile);
const cli = (...args: string[]) => run(process.execPath, [BIN, ...args], { env: { ...process.env, BUNDLEBASE_HISTORY: path.join(dir, 'history') } });
const hasPython = (() => {
  try {
    return Boolean(execFileSync('python3', ['--version']));
  } catch {
    return false;
  }
})();

describe('the statement language', () => {
  it('execute() records the same manifests as the builder API, statement by statement and all at once', async () => {
    const expected = await builderManifests();
    assert.equal(expected.length, 1 + 3 + 2, 'init, three commits, and the init and commit of the view');
    const one = await create(path.join(dir, 'by-execute'));
    for (const step of languageSteps()) {
      const [result] = await one.execute(step.sql);
      assert.equal(result?.kind, 'change', step.sql);
    }
    await one.close();
    assert.deepEqual(await normalizedManifests(path.join(dir, 'by-execute')), expected);

    const all = await create(path.join(dir, 'by-script'));
    const results = await all.execute(languageSteps().map((s) => s.sql).join(';\n'));
    assert.equal(results.length, languageSteps().length);
    await all.close();
    assert.deepEqual(await normalizedManifests(path.join(dir, 'by-script')), expected);
  });

  it('bundlebase exec records the same manifests (changes staged between two calls) and prints reads', async () => {
    const bundle = path.join(dir, 'by-exec');
    await cli('create', bundle);
    const statements = languageSteps().map((s) => s.sql);
    const firstCommit = statements.indexOf(`COMMIT 'first'`);
    const first = await cli('exec', bundle, statements.slice(0, firstCommit).join('; '));
    assert.match(first.stdout, /Attach [^\n]*people\.csv\n[^]*Rename view adults to grown|Rename view/);
    await cli('exec', bundle, `${statements.slice(firstCommit).join(';\n')};\nSHOW HISTORY; SELECT count(*) AS n FROM bundle`);
    assert.deepEqual(await normalizedManifests(bundle), await builderManifests());
    const reads = await cli('exec', bundle, 'SHOW HISTORY; SELECT max(id) AS top FROM bundle', '--format', 'csv');
    assert.match(reads.stdout, /^version,timestamp,author,message,changes\n[0-9a-f]{12},[^\n]*,first,[^]*,third,[^]*\ntop\n101\n$/);
    await assert.rejects(cli('exec', bundle, `SET NAME 'never'; DROP nonsense`), (err: { stderr: string; code: number }) =>
      err.code === 1 && /error: Syntax error at line 1, column 24: expected COLUMN, VIEW or INDEX but found 'nonsense'\n {2}SET NAME 'never'; DROP nonsense\n {25}\^/.test(err.stderr));
    assert.match((await cli('status', bundle)).stdout, /No uncommitted changes/, 'nothing ran');
    // an archive of the bundle answers reads; a write is refused
    const archive = path.join(dir, 'by-exec.tar');
    await cli('export-tar', bundle, archive);
    assert.match((await cli('exec', archive, 'SELECT max(id) AS top FROM bundle', '--format', 'csv')).stdout, /^top\n101\n$/);
    await assert.rejects(cli('exec', archive, `SET NAME 'x'`), (err: { stderr: string }) => /read-only/.test(err.stderr));
  });

  it('the REPL in a terminal records the same manifests', { skip: hasPython ? false : 'python3 (for its pty module) is not installed', timeout: 180_000 }, async () => {
    const bundle = path.join(dir, 'by-repl');
    await cli('create', bundle);
    const PROMPT = 'bundlebase> ';
    const steps = [
      { until: PROMPT },
      ...languageSteps().map((s) => ({ send: `${s.sql};\r`, until: PROMPT })),
      { send: 'SHOW HISTORY\r', until: PROMPT },
      { send: 'SELECT max(id) * 7 AS top\r', until: ' -> ' },
      { send: 'FROM bundle;\r', until: PROMPT },
      { send: 'EXIT\r' },
    ];
    const env = { ...process.env, BUNDLEBASE_HISTORY: path.join(dir, 'repl-history'), COLUMNS: '300' };
    const { stdout } = await run('python3', [path.resolve('test/support/pty-repl.py'), BIN, bundle, JSON.stringify(steps)], { timeout: 170_000, env });
    const session = JSON.parse(stdout) as { steps: string[]; exit: number };
    const output = session.steps.join('');
    assert.doesNotMatch(output, /error:/);
    assert.match(session.steps.at(-4)!, /third/, 'SHOW HISTORY ran at the end of its line');
    assert.match(session.steps.at(-2)!, /\b707\b/, 'a SELECT over two lines');
    assert.equal(session.exit, 0);
    assert.deepEqual(await normalizedManifests(bundle), await builderManifests());
  });

  it('reads: SELECT streams, SHOW and DESCRIBE DATA are tables, EXPLAIN is text; a read-only bundle refuses writes', async () => {
    await builderManifests();
    const b = await open(path.join(dir, 'by-api'));
    const [select, history, status, schema, count, views, explain, profile] = await b.execute(
      'SELECT count(*) AS n FROM bundle; SHOW HISTORY; SHOW STATUS; SHOW SCHEMA; SHOW COUNT; SHOW VIEWS; EXPLAIN SELECT * FROM bundle WHERE id = 1; DESCRIBE DATA age',
    );
    assert.equal(select?.kind, 'rows');
    if (select?.kind === 'rows') {
      assert.deepEqual(await select.rows.toObjects(), [{ n: await b.numRows() }].map((r) => ({ n: BigInt(r.n) })));
      await select.rows.close();
    }
    assert.deepEqual(history?.kind === 'table' && history.rows.map((r) => r[3]), ['first', 'second', 'third']);
    assert.deepEqual(status?.kind === 'table' && status.rows, []);
    assert.deepEqual(schema?.kind === 'table' && schema.rows.map((r) => r[0]), (await b.schema()).fields.map((f) => f.name));
    assert.deepEqual(count?.kind === 'table' && count.rows, [[await b.numRows()]]);
    assert.deepEqual(views?.kind === 'table' && views.rows.map((r) => r[0]), ['grown']);
    assert.match(explain?.kind === 'text' ? explain.text : '', /id=1|id = 1|Filters/);
    assert.deepEqual(profile?.kind === 'table' && profile.rows.map((r) => r[0]), ['age']);
    await expectError(() => b.execute(`SET NAME 'x'`), 'READ_ONLY', /SET NAME 'x'.*read-only/);
    await b.close();
  });

  it('a syntax error names line and column and what was expected; nothing runs', async () => {
    const cases: [string, RegExp][] = [
      ['DROP foo', /line 1, column 6: expected COLUMN, VIEW or INDEX but found 'foo'/],
      [`SELECT 1;\nATTACH data.csv`, /line 2, column 8: expected quoted text but found 'data'/],
      ['SELEKT 1', /line 1, column 1: expected ATTACH, .*SELECT.* but found 'SELEKT'/],
      ['COMMIT', /line 1, column 7: expected quoted text but found the end/],
      [`ATTACH 'x.csv' WITH (colour = 'red')`, /line 1, column 22: Unknown option 'colour'/],
      ['SELECT (1', /line 1, column 10: expected .*"\)"/],
      ['UPDATE bundle SET', /line 1, column 18: expected name/],
    ];
    for (const [sql, message] of cases) assert.throws(() => parseStatements(sql), (err: Error & { code?: string }) => err.code === 'INVALID_ARGUMENT' && message.test(err.message), sql);
    const b = await create();
    await expectError(() => b.execute(`ATTACH '${files.people}'; FILTER`), 'INVALID_ARGUMENT', /line 1, column \d+/);
    assert.ok(b.status().isEmpty(), 'the ATTACH before the error did not run');
    await b.close();
  });

  it('SQL inside statements keeps its quotes, comments and parentheses', () => {
    const [update, view, filter] = parseStatements(
      `UPDATE bundle SET a = f(1, 2), "b c" = 'x, WHERE y' WHERE a > 1; CREATE VIEW v AS SELECT ';' AS s -- ; not the end\n FROM bundle; FILTER WITH SELECT * FROM bundle WHERE $$a;b$$ <> name`,
    );
    assert.deepEqual(update, { type: 'update', set: [['a', 'f(1, 2)'], ['b c', "'x, WHERE y'"]], where: 'a > 1', always: false, text: update!.text, position: { line: 1, column: 1 } });
    assert.equal(view?.type === 'createView' && view.sql, `SELECT ';' AS s -- ; not the end\n FROM bundle`);
    assert.equal(filter?.type === 'filter' && filter.where, '$$a;b$$ <> name');
    assert.deepEqual(filter?.position, { line: 2, column: 15 });
  });
});
