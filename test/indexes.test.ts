import assert from 'node:assert/strict';
import YAML from 'yaml';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { appendFile, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { before, describe, it } from 'node:test';
import { create, open, type BundleBuilder } from '../src/index.js';
import { duck, expectError, tempDir, writeFixture } from './helpers.js';

/** Indexes narrow CSV and JSON read in place (a stored Parquet copy needs none): reference them. */
const REF = { saveAs: 'ref' } as const;

let dir: string;
let csv: string;
let json: string;
let parquet: string;

const PEOPLE = (n: number, from = 0) =>
  `SELECT ${from} + i AS id, 'name "' || ((${from} + i) % 97) || '", x' AS name, (${from} + i) % 90 AS age, ((${from} + i) % 7) * 1.5 AS score FROM range(${n}) t(i)`;

before(async () => {
  dir = await tempDir();
  csv = await writeFixture(path.join(dir, 'people.csv'), PEOPLE(20_000));
  json = await writeFixture(path.join(dir, 'people.json'), PEOPLE(500, 20_000));
  parquet = await writeFixture(path.join(dir, 'people.parquet'), PEOPLE(1000, 30_000));
});

/** The rows DuckDB's plan expects its CSV / JSON scan to read. */
const scanEstimate = (plan: string) => Number(/READ_(?:CSV|JSON)[\s\S]*?~([\d,]+) rows/.exec(plan)![1]!.replaceAll(',', ''));

/** The same query on an unindexed bundle: the expected rows. */
async function expected(where: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const b = await create().attach(csv, REF).attach(json, REF).attach(parquet).filter(where, params as never);
  const rows = await b.toObjects();
  await b.close();
  return rows.sort((x, y) => Number(x.id) - Number(y.id));
}

async function indexed(column = 'id'): Promise<BundleBuilder> {
  return create().attach(csv, REF).attach(json, REF).attach(parquet).createIndex(column);
}

describe('indexes', () => {
  it('createIndex is one change: createIndex then indexBlocks, with an idx_<id>_<uuid>.idx file', async () => {
    const bundleDir = path.join(dir, 'ix-format');
    const b = await create(bundleDir).attach(csv, REF).attach(json, REF).attach(parquet).createIndex('id');
    const change = b.status().changes.at(-1)!;
    assert.equal(change.description, 'Create index on id');
    assert.deepEqual(change.operations.map((o) => o.type), ['createIndex', 'indexBlocks']);
    const files = (await readdir(bundleDir)).filter((f) => f.endsWith('.idx'));
    assert.equal(files.length, 1);
    assert.match(files[0]!, /^idx_\w+_[0-9a-f-]{36}\.idx$/);
    await b.commit('indexed');
    const text = await readFile(path.join(bundleDir, '_bundlebase', (await readdir(path.join(bundleDir, '_bundlebase'))).find((f) => f.startsWith('00001'))!), 'utf8');
    // parse rather than match text: a random id such as 350185e4 is written quoted (YAML would read it as a number)
    const changes = (YAML.parse(text) as { changes: { description: string; operations: Record<string, unknown>[] }[] }).changes;
    const [createOp, blocksOp] = changes.find((c) => c.description === 'Create index on id')!.operations;
    assert.equal(createOp!.type, 'createIndex');
    assert.equal(createOp!.column, 'id');
    assert.equal(typeof createOp!.id, 'string');
    assert.equal(blocksOp!.type, 'indexBlocks');
    assert.equal(blocksOp!.indexId, createOp!.id);
    const blocks = blocksOp!.blocks as { id: unknown; version: unknown }[];
    assert.equal(blocks.length, 2, 'the CSV and the NDJSON block (Parquet is not indexed)');
    for (const block of blocks) {
      assert.equal(typeof block.id, 'string');
      assert.equal(typeof block.version, 'string');
    }
    assert.match(String(blocksOp!.path), /^idx_\w+_[0-9a-f-]{36}\.idx$/);
    assert.equal(typeof blocksOp!.cardinality, 'number');
    // quoted or not, the id in the file reads back as the same string
    assert.match(text, new RegExp(`^\\s+id: (${String(createOp!.id)}|"${String(createOp!.id)}"|'${String(createOp!.id)}')$`, 'm'));
    await b.close();
  });

  const queries: [string, string, unknown[]][] = [
    ['equality on an integer', 'id = $1', [12_345]],
    ['literal on the left', '20010 = id', []],
    ['IN list across blocks', 'id IN (5, 19999, 20004, 30002, 77777777)', []],
    ['indexed and unindexed terms', `id IN (10, 11, 100) AND age > 10`, []],
    ['an OR (index not used, same rows)', 'id = 7 OR age = 3', []],
    ['a value that matches nothing', 'id = $1', [-5]],
    ['a float literal against integers (block read in full)', 'id = 12.0', []],
    ['a text parameter against integers', 'id = $1', ['0042']],
  ];
  for (const [label, where, params] of queries) {
    it(`returns exactly the unindexed rows: ${label}`, async () => {
      const b = await indexed();
      await b.filter(where, params as never);
      const rows = (await b.toObjects()).sort((x, y) => Number(x.id) - Number(y.id));
      assert.deepEqual(rows, await expected(where, params));
      await b.close();
    });
  }

  it("an in-memory bundle's index files live with its stored data and go when it closes", async () => {
    const b = await create().attach(csv, REF).createIndex('id').filter('id = 42');
    const { file } = b.operations().find((o) => o.type === 'indexBlocks') as unknown as { file: string };
    assert.ok(!path.relative(os.tmpdir(), file).startsWith(`bundlebase-index-`), file);
    assert.ok(existsSync(file), file);
    assert.equal((await b.toObjects()).length, 1, 'the index still serves reads');
    await b.close();
    assert.ok(!existsSync(file), `${file} removed at close`);
    assert.ok(!existsSync(path.dirname(file)), `${path.dirname(file)} removed at close`);
  });

  it('a number against a text column reads the block in full (DuckDB casts the column)', async () => {
    const file = await writeFixture(path.join(dir, 'codes.csv'), `SELECT lpad(i::VARCHAR, 3, '0') AS code FROM range(50) t(i)`);
    const b = await create().attach(file, { format: 'csv', ...REF }).createIndex('code');
    assert.equal(String((await b.schema()).fields[0]!.type), 'Utf8', "the sniffer keeps '007' as text");
    // DuckDB compares by casting the column: '007' = 7; a text lookup of '7' would find nothing
    await b.filter('code = 7');
    assert.equal(await b.numRows(), 1);
    await b.close();
  });

  it('works on text and floating-point columns, quotes and commas included', async () => {
    for (const [column, where] of [['name', `name = 'name "5", x'`], ['score', 'score = 4.5']] as const) {
      const b = await indexed(column);
      await b.filter(where);
      const rows = (await b.toObjects()).sort((x, y) => Number(x.id) - Number(y.id));
      const want = await expected(where);
      assert.ok(want.length > 100);
      assert.deepEqual(rows, want);
      await b.close();
    }
  });

  /** `where` on `file` with and without an index on its column: the same rows; `narrowed`: read through the index. */
  async function sameAsUnindexed(file: string, where: string, params: unknown[], narrowed = true) {
    const plain = await create().attach(file, REF).filter(where, params as never);
    const b = await create().attach(file, REF).createIndex(where.split(' ')[0]!).filter(where, params as never);
    const want = await plain.toObjects();
    assert.ok(want.length > 0, where);
    assert.deepEqual(await b.toObjects(), want, where);
    if (narrowed) assert.ok(scanEstimate(await b.explain()) * 100 < scanEstimate(await plain.explain()), `${where}: read through the index`);
    await Promise.all([plain.close(), b.close()]);
  }

  it('finds every row DuckDB reads as the value, however the file spells it (4.50, 45e-1, 1_000, 0x1F, 2.5 in an integer column)', async () => {
    // the sniffer types `n` BIGINT and `x` DOUBLE from the first 30,000 rows; the spellings after
    // them are read by DuckDB its own ways (2.5 is 3 in an integer column, 0x1F is 31, +-0.5 is -0.5)
    const file = path.join(dir, 'spellings.csv');
    const lines = Array.from({ length: 30_000 }, (_, i) => `${i % 1000},${(i % 8) / 2}`);
    lines.push('2.5,4.50', '1_000,45e-1', '12345678901234567,0.45E1', '12345678901234568, 4.5 ', '0003,1e400', '0x1F,+-0.5',
      // DuckDB 1.5 reads the literal 3.6714364922384532 as the double written 3.6714364922384535
      '9007199254740993,3.6714364922384535');
    await writeFile(file, `n,x\n${lines.join('\n')}\n`);
    const types = (await create().attach(file, REF).schema()).fields.map((f) => String(f.type));
    assert.deepEqual(types, ['Int64', 'Float64'], 'the sniffer typed the columns from the first rows');
    for (const where of ['n = 3', 'n = 1000', 'n = 31', 'n = 12345678901234567', 'n = 9007199254740993.0', 'x = 4.5', "x = '4.5'", 'x IN (4.5, 3.5)', 'x = -0.5']) {
      await sameAsUnindexed(file, where, []);
    }
    await sameAsUnindexed(file, 'n = $1', [12345678901234567n]);
    // a long decimal literal DuckDB converts to DOUBLE its own way: read in full (a lookup of the
    // correctly rounded value would find no row)
    await sameAsUnindexed(file, 'x = 3.6714364922384532', [], false);
  });

  // a second review's cases: each returned fewer rows (or an error) through the index
  it('JSON: objects, arrays, Infinity / NaN tokens and keys written with escapes are found', async () => {
    const file = path.join(dir, 'review.json');
    const fill = Array.from({ length: 30_000 }, (_, i) => JSON.stringify({ id: 10 + (i % 1000), s: `v${i % 50}`, x: (i % 8) / 2 }));
    const extra = ['{"id":1,"s":{"a":1},"x":Infinity}', '{"id":2,"s":[1,2],"x":-Infinity}', '{"id":3,"s":Infinity,"x":NaN}', '{"\\u0069d":4,"s":"esc","x":0.25}'];
    await writeFile(file, `${[...fill, ...extra].join('\n')}\n`);
    for (const where of [`s = '{"a":1}'`, "s = '[1,2]'", "s = 'Infinity'", "x = 'inf'", 'id = 4', 'id IN (4, 11)']) await sameAsUnindexed(file, where, []);
    await sameAsUnindexed(file, 'x = $1', [-Infinity]);
  });

  it('CSV: backslash escapes, a space before a quote, CRLF line endings', async () => {
    const fill = (n: number, line: (i: number) => string) => Array.from({ length: n }, (_, i) => line(i));
    const escaped = path.join(dir, 'escaped.csv');
    await writeFile(escaped, `s,n\n${[...fill(30_000, (i) => `"q\\"${i % 50}\\"",${i % 1000}`), '"a\\",7,\\"",4242'].join('\n')}\n`);
    await sameAsUnindexed(escaped, "s = 'q\"3\"'", [], false);
    await sameAsUnindexed(escaped, 'n = 4242', [], false);
    const spaced = path.join(dir, 'spaced.csv');
    await writeFile(spaced, `n,s\n${[...fill(30_000, (i) => `${i % 1000},"v${i % 50}"`), '5001, "sp"'].join('\n')}\n`);
    await sameAsUnindexed(spaced, "s = 'sp'", []);
    for (const quoted of [true, false]) {
      const crlf = path.join(dir, `crlf-${quoted}.csv`);
      await writeFile(crlf, `n,s\r\n${fill(30_000, (i) => (quoted ? `${i % 1000},"v${i % 50}"` : `${i % 1000},v${i % 50}`)).join('\r\n')}\r\n`);
      await sameAsUnindexed(crlf, 'n = 3', []);
    }
  });

  it('a bigint past 2^53 against DOUBLE, and a column of different types across sources, are read in full', async () => {
    const doubles = path.join(dir, 'huge-doubles.csv');
    await writeFile(doubles, `n,x\n${[...Array.from({ length: 30_000 }, (_, i) => `${i % 1000},${(i % 8) / 2}`), '1,-18014398511658210'].join('\n')}\n`);
    await sameAsUnindexed(doubles, 'x = $1', [-18014398511658211n], false);
    // BIGINT in one source, DOUBLE in the other: the column is DOUBLE, where 2^53 + 1 equals 2^53
    const ints = path.join(dir, 'mixed-ints.csv');
    const halves = path.join(dir, 'mixed-halves.csv');
    await writeFile(ints, `n,s\n${[...Array.from({ length: 1000 }, (_, i) => `${i},a${i}`), '9007199254740992,big'].join('\n')}\n`);
    await writeFile(halves, `n,s\n${Array.from({ length: 100 }, (_, i) => `${i / 2},b${i}`).join('\n')}\n`);
    for (const [where, params] of [['n = 9007199254740993', []], ['n = $1', [9007199254740993n]]] as const) {
      const plain = await create().attach(ints, REF).attach(halves, REF).filter(where, params as never);
      const b = await create().attach(ints, REF).attach(halves, REF).createIndex('n').filter(where, params as never);
      assert.equal((await plain.toObjects()).length, 1, where);
      assert.deepEqual(await b.toObjects(), await plain.toObjects(), where);
      await Promise.all([plain.close(), b.close()]);
    }
  });

  it('JSON written as one array over many lines is left unindexed', async () => {
    const file = path.join(dir, 'array.json');
    await writeFile(file, `[${Array.from({ length: 3_000 }, (_, i) => JSON.stringify({ id: i % 1000, s: `v${i % 50}` })).join(',\n')}]\n`);
    await sameAsUnindexed(file, 'id = 3', [], false);
  });

  it('filters whose AND is no conjunction keep every row: OR next to parentheses, BETWEEN, E-strings, dollar quotes', async () => {
    const file = path.join(dir, 'terms.csv');
    await writeFile(file, `x,y,s\n${Array.from({ length: 40 }, (_, i) => `${i % 10},${i % 4},s${i % 3}`).join('\n')}\n`);
    for (const where of ['x = 5 AND y = 1 OR(x = 7)', 'x = 5 AND (y = 1)OR x = 7', "x = 5 AND s = E'it\\'s' OR x = 7", "x = 5 AND s = $$it's$$ OR x = 7",
      "x = 5 AND s = $t$it's$t$ OR x = 7", 'y BETWEEN 0 AND x = 1', 'x = 5 AND(y = 1)']) {
      await sameAsUnindexed(file, where, [], false);
    }
  });

  // a fourth review's cases
  it('a CSV attached with its options indexes with them (the bare sniffer fails on it)', async () => {
    const file = path.join(dir, 'told.csv');
    const lines = ['k;v;d', ...Array.from({ length: 3000 }, (_, i) => `k${i % 50};${i};2020-01-0${(i % 9) + 1}`), 'kx;abc;2020-01-01', 'ky;|q;r|;2020-01-01'];
    await writeFile(file, `${lines.join('\n')}\n`);
    const told = { format: 'csv', delimiter: ';', quote: '|', header: true, ...REF } as const;
    for (const where of ["k = 'k3'", "k = 'ky'", "k IN ('kx', 'k4')"]) {
      const plain = await create().attach(file, told).filter(where);
      const b = await create().attach(file, told).createIndex('k').filter(where);
      assert.ok((await plain.numRows()) > 0, where);
      assert.deepEqual(await b.toObjects(), await plain.toObjects(), where);
      await Promise.all([plain.close(), b.close()]);
    }
  });

  it('rebuildIndex and reindex refuse a source changed since attach, as a read does', async () => {
    const file = path.join(dir, 'changing.csv');
    await writeFile(file, `k,v\n${Array.from({ length: 100 }, (_, i) => `a${i % 10},${i}`).join('\n')}\n`);
    const b = await create().attach(file, REF).createIndex('k');
    await appendFile(file, 'b1,1000\n');
    await expectError(() => b.rebuildIndex('k'), 'SOURCE_CHANGED', /changing\.csv/);
    await expectError(() => b.reindex(), 'SOURCE_CHANGED', /changing\.csv/);
    assert.deepEqual(b.status().changes.map((c) => c.description).filter((d) => /index/i.test(d)), ['Create index on k'], 'nothing recorded');
    await b.close();
  });

  it('a CSV whose delimiter is not one byte is left unindexed (read in full, still right)', async () => {
    const file = path.join(dir, 'arrows.csv');
    await writeFile(file, `code→n\n${Array.from({ length: 50 }, (_, i) => `c${i % 10}→${i}`).join('\n')}\n`);
    const plain = await create().attach(file, { format: 'csv', delimiter: '→', header: true, ...REF }).filter("code = 'c7'");
    const b = await create().attach(file, { format: 'csv', delimiter: '→', header: true, ...REF }).createIndex('code').filter("code = 'c7'");
    assert.equal(await plain.numRows(), 5);
    assert.deepEqual(await b.toObjects(), await plain.toObjects());
    await Promise.all([plain.close(), b.close()]);
  });

  it('JSON: a number an integer column rounds (2.5 is 2, half to even) is found', async () => {
    const file = path.join(dir, 'spellings.json');
    const lines = Array.from({ length: 30_000 }, (_, i) => `{"id":${i % 1000}}`);
    lines.push('{"id":2.5}', '{"id":0.5}', '{"id":12.0}');
    await writeFile(file, `${lines.join('\n')}\n`);
    for (const where of ['id = 2', 'id = 0', 'id = 12']) await sameAsUnindexed(file, where, []);
  });

  it('reads only candidate records: explain shows the narrowed CSV scan', async () => {
    const plain = await create().attach(csv, REF).filter('id = 42');
    const b = await create().attach(csv, REF).createIndex('id').filter('id = 42');
    const full = scanEstimate(await plain.explain());
    const narrowed = scanEstimate(await b.explain());
    assert.ok(full > 1000, `unindexed scan estimate ${full}`);
    assert.ok(narrowed * 100 < full, `indexed scan estimate ${narrowed} vs ${full}`);
    assert.equal(await b.numRows(), 1);
    await Promise.all([plain.close(), b.close()]);
  });

  it('persists through commit and open; blocks attached later are read in full until reindex()', async () => {
    const bundleDir = path.join(dir, 'ix-persist');
    const b = await create(bundleDir).attach(csv, REF).createIndex('id');
    await b.commit('indexed');
    const later = await writeFixture(path.join(dir, 'later.csv'), PEOPLE(100, 50_000));
    const e = await (await open(bundleDir)).extend().attach(later, REF).filter('id IN (3, 50003)');
    assert.deepEqual((await e.toColumns()).id!.map(Number), [3, 50003], 'the unindexed block is still read');
    await e.reindex();
    assert.deepEqual(e.status().changes.at(-1)!.operations.map((o) => o.type), ['indexBlocks']);
    assert.deepEqual((await e.toColumns()).id!.map(Number), [3, 50003]);
    await e.commit('more');
    const r = await (await open(bundleDir)).extend();
    await r.filter('id = 50003');
    assert.deepEqual((await r.toColumns()).id!.map(Number), [50003]);
    await Promise.all([b.close(), e.close(), r.close()]);
  });

  it('a stale index is never used to return wrong rows', async () => {
    const file = await writeFixture(path.join(dir, 'stale.csv'), PEOPLE(1000));
    const b = await create().attach(file, REF).createIndex('id');
    await appendFile(file, '5000,late,1,1.5\n');
    const later = new Date(Date.now() + 60_000);
    await utimes(file, later, later);
    await b.filter('id = 5000');
    await expectError(() => b.toObjects(), 'SOURCE_CHANGED', /stale\.csv/);
    await b.close();
  });

  it('dropIndex and rebuildIndex; bad index calls are clear errors that change nothing', async () => {
    const b = await indexed();
    await expectError(() => b.createIndex('id'), 'INVALID_ARGUMENT', /Index on 'id' already exists/);
    await expectError(() => b.createIndex('nope'), 'INVALID_ARGUMENT', /'nope'/);
    await expectError(() => b.dropIndex('age'), 'NOT_FOUND', /No index on 'age'/);
    await expectError(() => b.rebuildIndex('age'), 'NOT_FOUND', /No index on 'age'/);
    assert.equal(b.status().changes.length, 4);
    await b.rebuildIndex('id');
    assert.deepEqual(b.status().changes.at(-1)!.operations.map((o) => o.type), ['rebuildIndex', 'indexBlocks']);
    await b.dropIndex('id');
    assert.equal(b.status().changes.at(-1)!.description, 'Drop index on id');
    await b.filter('id = 5');
    assert.deepEqual((await b.toColumns()).id!.map(Number), [5]);
    await b.close();
  });

  it('reports its progress while building', async () => {
    const seen: number[] = [];
    const b = await create().attach(csv, REF).attach(json, REF).createIndex('id', { onProgress: (p) => seen.push(p.percentage) });
    assert.ok(seen.length >= 2, 'called during the build and at the end');
    assert.equal(seen.at(-1), 100);
    assert.ok(seen.every((p, i) => i === 0 || p >= seen[i - 1]!), 'never goes backwards');
    await b.close();
  });

  it('refuses column types it cannot index', async () => {
    const dated = path.join(dir, 'dated.csv');
    await duck(`COPY (SELECT DATE '2024-01-01' + i::INTEGER AS day FROM range(10) t(i)) TO '${dated}' (HEADER)`);
    const b = await create().attach(dated, REF);
    await expectError(() => b.createIndex('day'), 'INVALID_ARGUMENT', /Cannot index column 'day' of type DATE/);
    await b.close();
  });
});
