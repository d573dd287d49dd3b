import assert from 'node:assert/strict';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { describe, it, before } from 'node:test';
import { create, open } from '../src/index.js';
import { nativeAvailable, nativeReadCount } from '../src/engine/arrow/native.js';
import { collectRows, expectError, operationsOf, peopleSql, readCommit, tempDir, writeFixture, duck } from './helpers.js';

let dir: string;
let parquet: string;
let csv: string;
let json: string;

before(async () => {
  dir = await tempDir();
  parquet = await writeFixture(path.join(dir, 'people.parquet'), peopleSql(1000));
  // a CSV with a column the Parquet lacks (email) and without ssn
  csv = await writeFixture(path.join(dir, 'more.csv'), `SELECT (1000 + i)::INTEGER AS id, 40 AS age, 'q' || i AS name, 'e' || i || '@x.org' AS email FROM range(20) t(i)`);
  json = await writeFixture(path.join(dir, 'extra.json'), `SELECT (2000 + i)::INTEGER AS id, 5 AS age, 'j' || i AS name FROM range(7) t(i)`);
});

describe('create and attach', () => {
  it('create() without a path is an in-memory bundle', async () => {
    const b = await create();
    assert.match(b.url, /^memory:\/\/\//);
    assert.equal((await b.schema()).fields.length, 0);
    assert.equal(await b.numRows(), 0);
    assert.equal(await collectRows(b.stream()), 0);
    await b.close();
  });

  it('unions a CSV and a Parquet file by column name, NULL where a column is missing', async () => {
    const b = await create().attach(parquet).attach(csv);
    const fields = (await b.schema()).fields.map((f) => f.name);
    assert.deepEqual(fields, ['id', 'age', 'name', 'ssn', 'email']);
    assert.equal(await b.numRows(), 1020);
    const rows = await b.toObjects();
    // the CSV sniffs id as BIGINT, so the union widens it: values are bigint
    const fromCsv = rows.find((r) => r.id === 1005n)!;
    assert.equal(fromCsv.ssn, null);
    assert.equal(fromCsv.email, 'e5@x.org');
    const fromParquet = rows.find((r) => r.id === 3n)!;
    assert.equal(fromParquet.email, null);
    assert.equal(fromParquet.ssn, 'ssn-3');
    await b.close();
  });

  it('attaches newline-delimited JSON', async () => {
    const b = await create().attach(json);
    assert.equal(await b.numRows(), 7);
    assert.deepEqual((await b.toColumns()).name, ['j0', 'j1', 'j2', 'j3', 'j4', 'j5', 'j6']);
    await b.close();
  });

  it('honours CSV options and an explicit format', async () => {
    const semi = path.join(dir, 'semi.data');
    await duck(`COPY (SELECT 1 AS a, 'x;y' AS b UNION ALL SELECT 2, 'z') TO '${semi}' (FORMAT csv, DELIMITER ';', QUOTE '|', HEADER true)`);
    const b = await create().attach(semi, { format: 'csv', delimiter: ';', quote: '|', header: true });
    assert.deepEqual(await b.toColumns(), { a: [1n, 2n], b: ['x;y', 'z'] });
    await b.close();
  });

  it('resolves relative sources against the bundle directory', async () => {
    const bundleDir = path.join(dir, 'relative-bundle');
    const b = await create(bundleDir).attach('../people.parquet');
    assert.equal(await b.numRows(), 1000);
    await b.commit('relative');
    const attach = operationsOf((await readCommit(bundleDir)).doc).find((o) => o.type === 'attachBlock')!;
    assert.equal(attach.source, '../people.parquet', 'stored as given, relative to the bundle');
    await b.close();
  });

  it('records attach as definePack + attachBlock the first time, attachBlock after', async () => {
    const b = await create().attach(parquet).attach(csv);
    const status = b.status();
    assert.equal(status.totalOperations, 3);
    assert.deepEqual(status.changes.map((c) => c.operations.map((o) => o.type)), [['definePack', 'attachBlock'], ['attachBlock']]);
    assert.equal(status.changes[0]!.description, `Attach ${parquet}`);
    await b.close();
  });
});

describe('operations', () => {
  it('filters with bound parameters', async () => {
    const b = await create().attach(parquet).filter('age >= $1 AND name <> $2', [80, 'p85']);
    const rows = await b.toObjects();
    // ages 80..89 in each block of 90 ids: 1000 ids → 11 blocks, the last (990..999) has ages 0..9
    assert.equal(rows.length, 11 * 10 - 1);
    assert.ok(rows.every((r) => (r.age as number) >= 80 && r.name !== 'p85'));
    await b.close();
  });

  it('keeps a quoted $1 inside a string literal as text', async () => {
    const b = await create().attach(parquet).filter(`name <> '$1' AND id < $1`, [3]);
    assert.equal(await b.numRows(), 3);
    await b.close();
  });

  it('renames then filters on the new name, keeping the column position', async () => {
    const b = await create().attach(parquet).renameColumn('age', 'years').filter('years = 42');
    assert.deepEqual((await b.schema()).fields.map((f) => f.name), ['id', 'years', 'name', 'ssn']);
    const ids = (await b.toColumns()).id as number[];
    assert.deepEqual(ids, [42, 132, 222, 312, 402, 492, 582, 672, 762, 852, 942]);
    await b.close();
  });

  it('removes one and several columns, keeping the order of the rest', async () => {
    const b = await create().attach(parquet).removeColumn('ssn');
    assert.deepEqual((await b.schema()).fields.map((f) => f.name), ['id', 'age', 'name']);
    await b.removeColumns(['id', 'name']);
    assert.deepEqual((await b.schema()).fields.map((f) => f.name), ['age']);
    assert.equal(b.status().changes.at(-1)!.description, 'Remove columns id, name');
    await b.close();
  });

  it('may remove the last column: the schema is then empty and no rows are read', async () => {
    const b = await create().attach(parquet).removeColumns(['ssn', 'name', 'age']).removeColumn('id');
    assert.equal((await b.schema()).fields.length, 0);
    assert.equal(await b.numRows(), 0);
    assert.equal(await collectRows(b.stream()), 0);
    assert.equal(b.status().changes.at(-1)!.description, 'Remove column id');
    await b.undo();
    assert.deepEqual((await b.schema()).fields.map((f) => f.name), ['id']);
    await b.close();
  });

  it('select() returns a new independent builder over table bundle', async () => {
    const b = await create().attach(parquet);
    const s = await b.select('SELECT age, count(*) AS n FROM bundle WHERE age < $1 GROUP BY age ORDER BY age DESC', [3]);
    assert.notEqual(s, b);
    assert.deepEqual(await s.toObjects(), [{ age: 2, n: 12n }, { age: 1, n: 12n }, { age: 0, n: 12n }]);
    assert.equal(await b.numRows(), 1000, 'the original builder is unchanged');
    const implicit = await b.select('count(*) AS n FROM bundle');
    assert.deepEqual(await implicit.toObjects(), [{ n: 1000n }]);
    assert.equal(s.operations().at(-1)!.describe().includes('GROUP BY age'), true);
    await Promise.all([b.close(), s.close(), implicit.close()]);
  });

  it('operations in a chain run in order', async () => {
    const b = await create().attach(parquet).renameColumn('name', 'n').filter(`n = 'p7'`).removeColumn('ssn');
    assert.deepEqual(await b.toObjects(), [{ id: 7, age: 7, n: 'p7' }]);
    assert.deepEqual(b.operations().map((o) => o.type), ['definePack', 'attachBlock', 'renameColumn', 'filter', 'removeColumns']);
    await b.close();
  });

  it('sets name and description', async () => {
    const b = await create().setName('People').setDescription('Everyone we know');
    assert.equal(b.name, 'People');
    assert.equal(b.description, 'Everyone we know');
    assert.deepEqual(b.status().changes.map((c) => c.description), ['Set name to People', 'Set description to Everyone we know']);
    await b.close();
  });
});

describe('reading', () => {
  it('streams RecordBatches whose rows sum to numRows, never an empty batch', async () => {
    const b = await create().attach(parquet).attach(csv).filter('age >= 18');
    const expected = await b.numRows();
    let rows = 0;
    let batches = 0;
    for await (const batch of b.stream()) {
      assert.ok(batch.numRows > 0);
      assert.equal(batch.schema.fields.length, 5);
      rows += batch.numRows;
      batches++;
    }
    assert.equal(rows, expected);
    assert.ok(batches >= 1);
    await b.close();
  });

  it('stream() returns its iterable synchronously and yields nothing for an empty result', async () => {
    const b = await create().attach(parquet).filter('age > 1000');
    const iterable = b.stream();
    assert.equal(typeof (iterable as { then?: unknown }).then, 'undefined');
    assert.equal(await collectRows(iterable), 0);
    await b.close();
  });

  it('breaking out of a stream early releases the query', async () => {
    const big = await writeFixture(path.join(dir, 'big.parquet'), peopleSql(200_000));
    const b = await create().attach(big);
    for (let i = 0; i < 3; i++) {
      let seen = 0;
      for await (const batch of b.stream()) {
        seen += batch.numRows;
        break;
      }
      assert.ok(seen > 0 && seen < 200_000);
    }
    assert.equal(await b.numRows(), 200_000, 'the bundle is still usable');
    await b.close();
  });

  it('two streams can be consumed interleaved', async () => {
    const b = await create().attach(path.join(dir, 'big.parquet'));
    const a = b.stream()[Symbol.asyncIterator]();
    const c = b.stream()[Symbol.asyncIterator]();
    let rowsA = 0;
    let rowsC = 0;
    for (;;) {
      const [x, y] = await Promise.all([a.next(), c.next()]);
      if (!x.done) rowsA += x.value.numRows;
      if (!y.done) rowsC += y.value.numRows;
      if (x.done && y.done) break;
    }
    assert.equal(rowsA, 200_000);
    assert.equal(rowsC, 200_000);
    await b.close();
  });

  it('explain() shows the filter pushed into the Parquet scan', async () => {
    const b = await create().attach(parquet).filter('age >= $1', [18]);
    const plan = await b.explain();
    assert.match(plan, /READ_PARQUET/);
    assert.match(plan, /Filters:[\s\S]*age>=18/);
    assert.doesNotMatch(plan, /EXPLAIN|explain_key/);
    await b.close();
  });

  it('toArrow(), toObjects() and toColumns() agree', async () => {
    const b = await create().attach(parquet).filter('id < 3');
    const table = await b.toArrow();
    assert.equal(table.numRows, 3);
    assert.deepEqual(await b.toObjects(), [
      { id: 0, age: 0, name: 'p0', ssn: 'ssn-0' },
      { id: 1, age: 1, name: 'p1', ssn: 'ssn-1' },
      { id: 2, age: 2, name: 'p2', ssn: 'ssn-2' },
    ]);
    assert.deepEqual(await b.toColumns(), { id: [0, 1, 2], age: [0, 1, 2], name: ['p0', 'p1', 'p2'], ssn: ['ssn-0', 'ssn-1', 'ssn-2'] });
    await b.close();
  });

  it('exports Parquet, CSV and newline-delimited JSON that read back the same', async () => {
    const b = await create().attach(parquet).filter('age = 10').removeColumn('ssn');
    for (const format of ['parquet', 'csv', 'json'] as const) {
      const out = path.join(dir, `export.${format}`);
      const { rows } = await b.export(out, { format });
      assert.equal(rows, 11);
      const back = await create().attach(out);
      assert.equal(await back.numRows(), 11);
      assert.deepEqual((await back.toColumns()).id!.map(Number), [10, 100, 190, 280, 370, 460, 550, 640, 730, 820, 910]);
      await back.close();
    }
    const lines = (await readFile(path.join(dir, 'export.json'), 'utf8')).trim().split('\n');
    assert.equal(lines.length, 11);
    assert.deepEqual(JSON.parse(lines[0]!), { id: 10, age: 10, name: 'p10' });
    await b.close();
  });

  it('counts rows from attach metadata when no step drops rows, by query otherwise', async () => {
    const b = await create().attach(parquet).attach(json).removeColumn('ssn');
    assert.equal(await b.numRows(), 1007);
    await b.filter('age = 5');
    assert.equal(await b.numRows(), 12 + 7);
    await b.close();
  });
});

describe('disposal', () => {
  it('supports close() and Symbol.asyncDispose', async () => {
    const b = await create().attach(parquet);
    await b[Symbol.asyncDispose]();
    await expectError(() => b.numRows(), 'CLOSED', /closed/);
  });

  it('opens what it committed', async () => {
    const bundleDir = path.join(await tempDir(), 'nested', 'deeper', 'b');
    const b = await create(bundleDir).attach(parquet);
    await b.commit('first');
    const r = await open(bundleDir);
    assert.equal(r.url, bundleDir);
    assert.equal(await r.numRows(), 1000);
    await Promise.all([b.close(), r.close()]);
  });
});

describe('errors while streaming', () => {
  for (const conversion of ['native', 'js'] as const) {
    it(`an error raised mid-stream rejects the iteration with SQL_ERROR after earlier batches (${conversion})`, { skip: process.env.BUNDLEBASE_SKIP_NATIVE ? 'needs the addon to see a failed fetch' : false }, async () => {
      const previous = process.env.BUNDLEBASE_CONVERSION;
      process.env.BUNDLEBASE_CONVERSION = conversion;
      try {
        const big = await writeFixture(path.join(await tempDir(), 'stream-error.parquet'), peopleSql(300_000));
        // recording only binds the SQL; the error fires when rows past 150 000 are read
        const b = await create().attach(big).filter(`CASE WHEN id >= 150000 THEN error('boom at ' || id) ELSE true END`);
        let rows = 0;
        const nativeBefore = nativeReadCount();
        await assert.rejects(async () => {
          for await (const batch of b.stream()) rows += batch.numRows;
        }, (err: unknown) => (err as { code?: string }).code === 'SQL_ERROR' && /boom at/.test((err as Error).message));
        assert.equal(nativeReadCount() > nativeBefore, conversion === 'native' && nativeAvailable(), 'the stream was read by the conversion under test');
        assert.ok(rows < 300_000);
        assert.equal((await b.schema()).fields.length, 4, 'the bundle stays usable');
        await b.close();
      } finally {
        if (previous === undefined) delete process.env.BUNDLEBASE_CONVERSION;
        else process.env.BUNDLEBASE_CONVERSION = previous;
      }
    });
  }
});

describe('chains', () => {
  it('reads straight from a chain, after every call before them', async () => {
    const dir2 = await tempDir();
    const file = await writeFixture(path.join(dir2, 'chain.parquet'), peopleSql(100));
    const chain = create().attach(file).filter('age < $1', [3]).removeColumn('ssn');
    assert.deepEqual(await chain.toObjects(), [
      { id: 0, age: 0, name: 'p0' }, { id: 1, age: 1, name: 'p1' }, { id: 2, age: 2, name: 'p2' },
      { id: 90, age: 0, name: 'p90' }, { id: 91, age: 1, name: 'p91' }, { id: 92, age: 2, name: 'p92' },
    ]);
    assert.equal(await create().attach(file).filter('id = 7').numRows(), 1);
    assert.deepEqual((await create().attach(file).removeColumn('ssn').schema()).fields.map((f) => f.name), ['id', 'age', 'name']);
    let rows = 0;
    for await (const batch of create().attach(file).stream()) rows += batch.numRows;
    assert.equal(rows, 100);
    await expectError(() => create().attach(file).filter('nope = 1').toObjects(), 'SQL_ERROR', /nope/);
  });
});
