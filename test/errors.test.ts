import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { before, describe, it } from 'node:test';
import { create, open, BundlebaseError, type BundleBuilder } from '../src/index.js';
import { expectError, peopleSql, tempDir, writeFixture } from './helpers.js';

let dir: string;
let parquet: string;

before(async () => {
  dir = await tempDir();
  parquet = await writeFixture(path.join(dir, 'people.parquet'), peopleSql(100));
});

/** Runs `bad` on a committed builder and checks it changed neither the builder nor the bundle. */
async function leavesUntouched(bad: (b: BundleBuilder) => unknown, code: string, pattern: RegExp) {
  const bundleDir = path.join(await tempDir(), 'b');
  const b = await create(bundleDir).attach(parquet);
  await b.commit('base');
  await b.filter('age > 10');
  const before = { ops: b.operations().length, status: b.status().totalOperations, schema: String(await b.schema()), files: (await readdir(path.join(bundleDir, '_bundlebase'))).sort() };
  await expectError(() => bad(b), code, pattern);
  assert.equal(b.operations().length, before.ops);
  assert.equal(b.status().totalOperations, before.status);
  assert.equal(String(await b.schema()), before.schema);
  // readdir order is the file system's: compare the sets of names
  assert.deepEqual((await readdir(path.join(bundleDir, '_bundlebase'))).sort(), before.files);
  assert.equal(await b.numRows(), 79, 'the builder still reads as before (ages 11..89)');
  await b.close();
}

describe('bad input gives a BundlebaseError and changes nothing', () => {
  it('BundlebaseError is exported with a code', () => {
    const err = new BundlebaseError('NOT_FOUND', 'x');
    assert.ok(err instanceof Error);
    assert.equal(err.code, 'NOT_FOUND');
  });

  it('missing file', () => leavesUntouched((b) => b.attach(path.join(dir, 'nope.parquet')), 'NOT_FOUND', /nope\.parquet/));
  it('empty URL', () => leavesUntouched((b) => b.attach(''), 'INVALID_ARGUMENT', /URL/));
  it('unknown extension without a format', () => leavesUntouched((b) => b.attach(path.join(dir, 'data.xyz')), 'INVALID_ARGUMENT', /data\.xyz/));
  it('unknown format', () => leavesUntouched((b) => b.attach(parquet, { format: 'xml' as never }), 'INVALID_ARGUMENT', /xml/));
  it('a file that is not what its extension says', async () => {
    const fake = path.join(dir, 'fake.parquet');
    await writeFile(fake, 'not parquet at all');
    await leavesUntouched((b) => b.attach(fake), 'SQL_ERROR', /fake\.parquet/);
  });
  it('invalid SQL in a filter', () => leavesUntouched((b) => b.filter('age >>>= 3'), 'SQL_ERROR', /age >>>= 3|syntax/i));
  it('unknown column in a filter', () => leavesUntouched((b) => b.filter('agex > 3'), 'SQL_ERROR', /agex/));
  it('unknown column to remove', () => leavesUntouched((b) => b.removeColumn('nope'), 'INVALID_ARGUMENT', /'nope'/));
  it('unknown column to rename', () => leavesUntouched((b) => b.renameColumn('nope', 'x'), 'INVALID_ARGUMENT', /'nope'/));
  it('rename onto an existing column', () => leavesUntouched((b) => b.renameColumn('age', 'name'), 'INVALID_ARGUMENT', /'name' already exists/));
  it('column names are case-sensitive', () => leavesUntouched((b) => b.removeColumn('AGE'), 'INVALID_ARGUMENT', /'AGE'/));
  it('missing parameter', () => leavesUntouched((b) => b.filter('age > $1'), 'INVALID_ARGUMENT', /\$1/));
  it('extra parameter', () => leavesUntouched((b) => b.filter('age > 3', [1]), 'INVALID_ARGUMENT', /parameter/));
  it('unsupported parameter type', () => leavesUntouched((b) => b.filter('age > $1', [{} as never]), 'INVALID_ARGUMENT', /\$1/));
  it('invalid SQL in select', () => leavesUntouched((b) => b.select('SELEKT * FROM bundle'), 'SQL_ERROR', /SELEKT|syntax/i));
  it('select from an unknown table', () => leavesUntouched((b) => b.select('SELECT * FROM nothing_here'), 'SQL_ERROR', /nothing_here/));

  it('a failed link of a chain stops the rest of the chain', async () => {
    const b = await create().attach(parquet);
    await expectError(() => b.filter('nope = 1').removeColumn('ssn'), 'SQL_ERROR', /nope/);
    assert.deepEqual((await b.schema()).fields.map((f) => f.name), ['id', 'age', 'name', 'ssn']);
    await b.close();
  });

  it('create() where a bundle already exists', async () => {
    const bundleDir = path.join(await tempDir(), 'b');
    await create(bundleDir).attach(parquet).commit('one');
    await expectError(() => create(bundleDir), 'INVALID_ARGUMENT', /already exists/);
  });
});

describe('opening', () => {
  it('a missing directory', () => expectError(() => open(path.join(dir, 'no-such-bundle')), 'NOT_FOUND', /no-such-bundle/));

  it('a directory that is not a bundle', async () => {
    const plain = path.join(dir, 'plain');
    await mkdir(plain, { recursive: true });
    await expectError(() => open(plain), 'NOT_FOUND', /plain is not a bundle/);
  });

  it('an empty url', () => expectError(() => open(''), 'INVALID_ARGUMENT', /URL/));

  async function committed(): Promise<string> {
    const bundleDir = path.join(await tempDir(), 'b');
    await create(bundleDir).attach(parquet).commit('one');
    return bundleDir;
  }

  async function commitFile(bundleDir: string): Promise<string> {
    const files = await readdir(path.join(bundleDir, '_bundlebase'));
    return path.join(bundleDir, '_bundlebase', files.find((f) => f.startsWith('00001'))!);
  }

  it('a corrupt (truncated) manifest names the file', async () => {
    const bundleDir = await committed();
    const file = await commitFile(bundleDir);
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.slice(0, text.indexOf('operations:') + 14) + '\n  - [unclosed');
    await expectError(() => open(bundleDir), 'IO_ERROR', new RegExp(path.basename(file)));
  });

  it('manifest scalars read as YAML 1.2 core: exact integers, quoted text and timestamps stay text', async () => {
    const bundleDir = await committed();
    const file = await commitFile(bundleDir);
    // a filter written by hand (or another implementation) with every scalar form a manifest may hold
    const filter = [
      '      - type: filter',
      '        whereClause: id IN ($1, $2, $3, $4, $5, $6)',
      '        parameters: [ 9007199254740993, -12, 0x1F, "007", 2026-01-08T07:24:18Z, 1.5e3 ]',
      '',
    ].join('\n');
    await writeFile(file, (await readFile(file, 'utf8')).trimEnd() + '\n' + filter);
    const b = await open(bundleDir);
    const op = b.operations().find((o) => o.type === 'filter') as unknown as { parameters: unknown[] };
    assert.deepEqual(op.parameters, [9007199254740993n, -12, 31, '007', '2026-01-08T07:24:18Z', 1500]);
    assert.match(b.history()[0]!.timestamp, /^\d{4}-\d\d-\d\dT/);
    await b.close();
  });

  it('a manifest that is YAML but not a commit names the file', async () => {
    const bundleDir = await committed();
    const file = await commitFile(bundleDir);
    await writeFile(file, 'just: a mapping\n');
    await expectError(() => open(bundleDir), 'IO_ERROR', new RegExp(`${path.basename(file)}.*changes`));
  });

  it('an unknown operation type names the type and the file', async () => {
    const bundleDir = await committed();
    const file = await commitFile(bundleDir);
    await writeFile(file, (await readFile(file, 'utf8')).replace('type: definePack', 'type: teleport'));
    await expectError(() => open(bundleDir), 'INVALID_ARGUMENT', new RegExp(`teleport.*${path.basename(file)}`));
  });

  it('a commit with no message is rejected before writing', async () => {
    const b = await create().attach(parquet);
    await expectError(() => b.commit(undefined as never), 'INVALID_ARGUMENT', /message/);
    await b.close();
  });
});
