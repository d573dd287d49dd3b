import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import path from 'node:path';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { before, describe, it } from 'node:test';
import YAML from 'yaml';
import { create, open } from '../src/index.js';
import { peopleSql, tempDir, writeFixture } from './helpers.js';

const run = promisify(execFile);
let dir: string;
let parquet: string;
let csv: string;

before(async () => {
  dir = await tempDir();
  parquet = await writeFixture(path.join(dir, 'people.parquet'), peopleSql(500));
  csv = await writeFixture(path.join(dir, 'more.csv'), `SELECT 900 + i AS id, 33 AS age, 'c' || i AS name FROM range(5) t(i)`);
});

/** Opens the bundle in a separate Node process and returns what it read. */
async function readInFreshProcess(url: string) {
  const entry = pathToFileURL(path.resolve('src/index.ts')).href;
  const script = `
    const { open } = await import(${JSON.stringify(entry)});
    const b = await open(${JSON.stringify(url)});
    const rows = await b.toObjects();
    console.log(JSON.stringify({
      schema: (await b.schema()).fields.map((f) => f.name + ':' + f.type),
      numRows: await b.numRows(),
      first: rows.slice(0, 2),
      history: b.history().map((c) => ({ version: c.version, message: c.message, ops: c.operations.map((o) => o.type) })),
      version: b.version, id: b.id, name: b.name, description: b.description, url: b.url,
    }, (k, v) => typeof v === 'bigint' ? v.toString() : v));
    await b.close();`;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
  return JSON.parse(stdout);
}

describe('commit and open', () => {
  it('a fresh process opens the same schema, rows and history', async () => {
    const bundleDir = path.join(dir, 'round-trip');
    const b = await create(bundleDir).attach(parquet).attach(csv).filter('age >= $1', [30]).removeColumn('ssn').renameColumn('name', 'first_name').setName('People').setDescription('Adults only');
    await b.commit('Cleaned people');
    const schema = (await b.schema()).fields.map((f) => `${f.name}:${f.type}`);
    const numRows = await b.numRows();
    const read = await readInFreshProcess(bundleDir);
    assert.deepEqual(read.schema, schema);
    assert.equal(read.numRows, numRows);
    assert.deepEqual(read.first, [{ id: '30', age: '30', first_name: 'p30' }, { id: '31', age: '31', first_name: 'p31' }]);
    assert.equal(read.history.length, 1);
    assert.equal(read.history[0].message, 'Cleaned people');
    assert.deepEqual(read.history[0].ops, ['definePack', 'attachBlock', 'attachBlock', 'filter', 'removeColumns', 'renameColumn', 'setName', 'setDescription']);
    assert.equal(read.version, b.version);
    assert.equal(read.id, b.id);
    assert.equal(read.name, 'People');
    assert.equal(read.description, 'Adults only');
    assert.equal(read.url, bundleDir);
    await b.close();
  });

  it('version is 12 hex, changes with each commit, and history grows oldest first', async () => {
    const bundleDir = path.join(dir, 'versions');
    const b = await create(bundleDir).attach(parquet);
    const initial = b.version;
    assert.match(initial, /^[0-9a-f]{12}$/);
    await b.commit('one');
    const v1 = b.version;
    assert.notEqual(v1, initial);
    await b.filter('age < 10');
    assert.equal(b.version, v1, 'uncommitted changes do not alter the version');
    await b.commit('two');
    assert.notEqual(b.version, v1);
    await b.commit('three (empty)');
    const r = await open(bundleDir);
    assert.deepEqual(r.history().map((c) => c.message), ['one', 'two', 'three (empty)']);
    assert.deepEqual(r.history()[2]!.changes, []);
    assert.equal(r.version, b.version);
    assert.equal(r.history()[0]!.version, v1);
    await Promise.all([b.close(), r.close()]);
  });

  it('writes DESIGN §4 manifests: init file, NNNNN + first 12 hex of the SHA-256 of the bytes, camelCase, no nulls', async () => {
    const bundleDir = path.join(dir, 'format');
    process.env.BUNDLEBASE_AUTHOR = 'alice';
    const b = await create(bundleDir).attach(parquet).filter('age >= $1', [18]).renameColumn('name', 'n');
    await b.commit('Format check');
    delete process.env.BUNDLEBASE_AUTHOR;
    const files = (await readdir(path.join(bundleDir, '_bundlebase'))).sort();
    assert.equal(files.length, 2);
    assert.equal(files[0], '00000000000000000.yaml');
    assert.deepEqual(YAML.parse(await readFile(path.join(bundleDir, '_bundlebase', files[0]!), 'utf8')), { id: b.id });
    const bytes = await readFile(path.join(bundleDir, '_bundlebase', files[1]!));
    assert.equal(files[1], `00001${createHash('sha256').update(bytes).digest('hex').slice(0, 12)}.yaml`);
    const text = bytes.toString('utf8');
    assert.doesNotMatch(text, /: (null|~)$/m, 'unset optionals are omitted, never null');
    assert.doesNotMatch(text, /[{}]/, 'block style, not flow style');
    const doc = YAML.parse(text);
    assert.equal(doc.author, 'alice');
    assert.equal(doc.message, 'Format check');
    assert.match(doc.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const ops = doc.changes.flatMap((c: { operations: unknown[] }) => c.operations);
    assert.deepEqual(ops.map((o: { type: string }) => o.type), ['definePack', 'attachBlock', 'filter', 'renameColumn']);
    const attach = ops[1];
    assert.equal(attach.source, parquet);
    assert.equal(attach.packId, ops[0].id);
    assert.equal(attach.numRows, 500);
    assert.equal(typeof attach.bytes, 'number');
    assert.match(attach.version, /^\d+-\d+$/);
    assert.deepEqual(attach.schema.fields[0], { name: 'id', data_type: 'Int32', nullable: true });
    assert.deepEqual(ops[2], { type: 'filter', whereClause: 'age >= $1', parameters: [18] });
    assert.deepEqual(ops[3], { type: 'renameColumn', oldName: 'name', newName: 'n' });
    assert.deepEqual(doc.changes.map((c: { description: string }) => c.description), [`Attach ${parquet}`, 'Filter age >= $1', 'Rename column name to n']);
    await b.close();
  });

  it('opens a manifest written by hand in the DESIGN §4 layout', async () => {
    const bundleDir = path.join(dir, 'by-hand');
    await mkdir(path.join(bundleDir, '_bundlebase'), { recursive: true });
    await writeFixture(path.join(bundleDir, 'customers.csv'), `SELECT 'c' || i || '@x.org' AS Email, 10 + i AS age FROM range(30) t(i)`);
    await writeFile(path.join(bundleDir, '_bundlebase', '00000000000000000.yaml'), 'id: 4b7d3d6e-0000-4000-8000-000000000001\n');
    const commit = [
      'author: alice',
      'message: Cleaned customer data',
      'timestamp: 2026-01-08T07:24:18Z',
      'changes:',
      '  - id: 11675b7b-8aca-4187-a38d-bfda4d739e0e',
      '    description: Attach customers.csv',
      '    operations:',
      '      - type: definePack',
      "        id: '56'",
      '      - type: attachBlock',
      '        source: customers.csv',
      '        id: 09',
      "        packId: '56'",
      '        numRows: 30',
      '  - id: 21675b7b-8aca-4187-a38d-bfda4d739e0e',
      '    description: Filter age >= $1',
      '    operations:',
      '      - type: filter',
      '        whereClause: age >= $1',
      '        parameters: [ 18 ]',
      '',
    ].join('\n');
    const hash = createHash('sha256').update(commit).digest('hex').slice(0, 12);
    await writeFile(path.join(bundleDir, '_bundlebase', `00001${hash}.yaml`), commit);
    const b = await open(bundleDir);
    assert.equal(b.id, '4b7d3d6e-0000-4000-8000-000000000001');
    assert.equal(b.version, hash);
    assert.equal(await b.numRows(), 22);
    assert.deepEqual((await b.schema()).fields.map((f) => f.name), ['Email', 'age']);
    assert.equal(b.history()[0]!.author, 'alice');
    assert.deepEqual(b.operations().map((o) => o.describe()), ['Define pack 56', 'Attach customers.csv', 'Filter age >= $1']);
    await b.close();
  });

  it('a long history reopens exactly: every commit in order, the same state, 64-bit values intact', async () => {
    const bundleDir = path.join(dir, 'long-history');
    const b = await create(bundleDir).attach(parquet).filter('id <> $1', [9007199254740993n]);
    await b.commit('attach');
    for (let i = 0; i < 30; i++) {
      if (i % 2) await b.filter('id <> $1', [i]);
      else await b.setDescription(`step ${i}`);
      await b.commit(`commit ${i}`);
    }
    const r = await open(bundleDir);
    const exact = (history: unknown) => JSON.stringify(history, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
    assert.equal(r.history().length, 31);
    assert.deepEqual(r.history().map((c) => c.message), ['attach', ...Array.from({ length: 30 }, (_, i) => `commit ${i}`)]);
    assert.equal(exact(r.history()), exact(b.history()));
    assert.match(exact(r.history()[0]!.operations), /"parameters":\["9007199254740993n"\]/);
    assert.equal(r.version, b.version);
    assert.equal(r.description, 'step 28');
    assert.equal(await r.numRows(), 500 - 15);
    assert.deepEqual(await r.schema(), await b.schema());
    await Promise.all([b.close(), r.close()]);
  });

  it('memory:/// bundles can be committed and opened within the process', async () => {
    const url = `memory:///people-${randomUUID()}`;
    const b = await create(url).attach(parquet).filter('age = 1');
    await b.commit('in memory');
    const r = await open(url);
    assert.equal(await r.numRows(), 6);
    assert.equal(r.history()[0]!.message, 'in memory');
    await Promise.all([b.close(), r.close()]);
  });

  it('file:// URLs reach the same bundle, with the same url', async () => {
    const bundleDir = path.join(dir, 'file-url');
    const b = await create(pathToFileURL(bundleDir).href).attach(parquet);
    await b.commit('via file url');
    const r = await open(pathToFileURL(bundleDir).href);
    assert.equal(r.url, bundleDir);
    assert.equal(b.url, bundleDir);
    assert.equal(await r.numRows(), 500);
    await Promise.all([b.close(), r.close()]);
  });
});
