import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { readdir, readFile, rm, utimes, writeFile, appendFile } from 'node:fs/promises';
import { before, describe, it } from 'node:test';
import { create, open } from '../src/index.js';
import { expectError, operationsOf, peopleSql, readCommit, tempDir, writeFixture } from './helpers.js';

let dir: string;
let parquet: string;

before(async () => {
  dir = await tempDir();
  parquet = await writeFixture(path.join(dir, 'people.parquet'), peopleSql(300));
});

async function committedBundle(name: string): Promise<string> {
  const bundleDir = path.join(dir, name);
  await create(bundleDir).attach(parquet).commit('base');
  return bundleDir;
}

describe('status, undo and reset', () => {
  it('status() lists uncommitted changes; undo drops the last, reset drops all', async () => {
    const b = await create().attach(parquet).filter('age > 5').removeColumn('ssn');
    let status = b.status();
    assert.equal(status.isEmpty(), false);
    assert.deepEqual(status.changes.map((c) => c.description), [`Attach ${parquet}`, 'Filter age > 5', 'Remove column ssn']);
    assert.equal(status.totalOperations, 4);
    assert.match(status.changes[0]!.id, /^[0-9a-f-]{36}$/);
    await b.undo();
    status = b.status();
    assert.deepEqual(status.changes.map((c) => c.description), [`Attach ${parquet}`, 'Filter age > 5']);
    assert.ok((await b.schema()).fields.some((f) => f.name === 'ssn'), 'undo restored the column');
    await b.reset();
    assert.equal(b.status().isEmpty(), true);
    assert.equal(b.status().totalOperations, 0);
    assert.equal((await b.schema()).fields.length, 0);
    await b.close();
  });

  it('reset() returns to the last commit, version included', async () => {
    const bundleDir = await committedBundle('reset');
    const b = await (await open(bundleDir)).extend();
    const version = b.version;
    await b.filter('age < 3').setName('changed');
    assert.equal(await b.numRows(), 12);
    await b.reset();
    assert.equal(b.version, version);
    assert.equal(await b.numRows(), 300);
    assert.equal(b.name, undefined);
    await b.close();
  });
});

describe('extend', () => {
  it('extend() without a directory continues the same bundle', async () => {
    const bundleDir = await committedBundle('same');
    const r = await open(bundleDir);
    const b = await r.extend().filter('age < 10');
    assert.equal(b.url, r.url);
    assert.equal(b.id, r.id);
    await b.commit('second');
    const files = (await readdir(path.join(bundleDir, '_bundlebase'))).sort();
    assert.deepEqual(files.map((f) => f.slice(0, 5)), ['00000', '00001', '00002']);
    const again = await open(bundleDir);
    assert.deepEqual(again.history().map((c) => c.message), ['base', 'second']);
    await Promise.all([r.close(), b.close(), again.close()]);
  });

  it('extend(dir) starts a from-chain: init is { from }, the id is kept, chains of 3 replay in order', async () => {
    const root = await committedBundle('chain-root');
    const second = path.join(dir, 'chain-2');
    const third = path.join(dir, 'chain-3');
    const r = await open(root);
    const b2 = await r.extend(second).filter('age >= 10');
    await b2.commit('adults-ish');
    const init2 = await readFile(path.join(second, '_bundlebase', '00000000000000000.yaml'), 'utf8');
    // beside each other: named relatively, so the two can move together
    assert.equal(init2.trim(), `from: ../${path.basename(root)}`);
    const b3 = await (await open(second)).extend(third).removeColumn('ssn');
    await b3.commit('no ssn');
    const opened = await open(third);
    assert.equal(opened.id, r.id);
    assert.equal(opened.url, third);
    assert.deepEqual(opened.history().map((c) => c.message), ['base', 'adults-ish', 'no ssn']);
    assert.deepEqual((await opened.schema()).fields.map((f) => f.name), ['id', 'age', 'name']);
    assert.equal(await opened.numRows(), 300 - 4 * 10);
    // the parent is untouched
    assert.equal(await (await open(root)).numRows(), 300);
    await Promise.all([r.close(), b2.close(), b3.close(), opened.close()]);
  });

  it('relative sources in a parent resolve against the parent directory', async () => {
    const parent = path.join(dir, 'rel-parent');
    await writeFixture(path.join(dir, 'rel.parquet'), peopleSql(20));
    await create(parent).attach('../rel.parquet').commit('relative');
    const child = path.join(dir, 'deeper', 'rel-child');
    const b = await (await open(parent)).extend(child);
    await b.commit('child');
    assert.equal(await (await open(child)).numRows(), 20);
    await b.close();
  });
});

describe('time travel and diff', () => {
  it('open(url, { version }) reads a past commit by 12-hex version or number', async () => {
    const bundleDir = await committedBundle('travel');
    const b = await (await open(bundleDir)).extend().filter('age < 50');
    await b.commit('under 50');
    await b.removeColumn('ssn');
    await b.commit('no ssn');
    const [v1, v2, v3] = b.history().map((c) => c.version);
    const past = await open(bundleDir, { version: v1! });
    assert.equal(past.version, v1);
    assert.equal(await past.numRows(), 300);
    assert.equal(past.history().length, 1);
    const byNumber = await open(bundleDir, { version: 2 });
    assert.equal(byNumber.version, v2);
    assert.equal((await byNumber.schema()).fields.length, 4);
    assert.equal((await open(bundleDir, { version: v3! })).version, v3);
    await expectError(() => open(bundleDir, { version: 'ffffffffffff' }), 'INVALID_ARGUMENT', /ffffffffffff/);
    await b.close();
  });

  it('diff() reports the commits, operations and schema change between versions', async () => {
    const bundleDir = await committedBundle('diff');
    const b = await (await open(bundleDir)).extend().removeColumn('ssn').renameColumn('age', 'years');
    await b.commit('reshape');
    await b.select('SELECT id, years::DOUBLE AS years FROM bundle');
    const [v1, v2] = b.history().map((c) => c.version);
    const d = await b.diff(v1!, v2!);
    assert.equal(d.from, v1);
    assert.equal(d.to, v2);
    assert.deepEqual(d.commits.map((c) => c.message), ['reshape']);
    assert.deepEqual(d.operations.map((o) => o.describe()), ['Remove column ssn', 'Rename column age to years']);
    assert.deepEqual(d.schema, { added: ['years'], removed: ['age', 'ssn'], changed: [] });
    const back = await b.diff(v2!, v1!);
    assert.deepEqual(back.removedCommits.map((c) => c.message), ['reshape']);
    assert.deepEqual(back.schema.added, ['age', 'ssn']);
    await b.close();
  });
});

describe('commit races', () => {
  it('two builders on the same commit: the first wins, the second gets CONFLICT and writes nothing', async () => {
    const bundleDir = await committedBundle('race');
    const a = await (await open(bundleDir)).extend().setName('a');
    const b = await (await open(bundleDir)).extend().setName('b');
    await a.commit('from a');
    const before = (await readdir(path.join(bundleDir, '_bundlebase'))).sort();
    await expectError(() => b.commit('from b'), 'CONFLICT', /00002/);
    assert.deepEqual((await readdir(path.join(bundleDir, '_bundlebase'))).sort(), before);
    assert.equal(b.status().totalOperations, 1, 'the loser keeps its changes');
    assert.deepEqual((await open(bundleDir)).history().map((c) => c.message), ['base', 'from a']);
    await Promise.all([a.close(), b.close()]);
  });

  it('4 processes × 25 commits: no gaps, no duplicates, every success present', { timeout: 180_000 }, async () => {
    const bundleDir = await committedBundle('many-writers');
    const writers = ['w0', 'w1', 'w2', 'w3'].map((tag) => runCommitter(bundleDir, 25, tag));
    const outputs = await Promise.all(writers.map((w) => w.done));
    const committed = outputs.flatMap((o) => o.stdout.trim().split('\n'));
    assert.equal(committed.length, 100);
    const history = (await open(bundleDir)).history();
    const messages = history.map((c) => c.message);
    assert.equal(messages.length, 101);
    assert.equal(new Set(messages).size, 101, 'no duplicates');
    for (const m of committed) assert.ok(messages.includes(m), `${m} is in the history`);
    const numbers = (await readdir(path.join(bundleDir, '_bundlebase'))).filter((f) => /^\d{5}[0-9a-f]{12}\.yaml$/.test(f)).map((f) => Number(f.slice(0, 5))).sort((x, y) => x - y);
    assert.deepEqual(numbers, [0, ...Array.from({ length: 101 }, (_, i) => i + 1)]);
  });
});

describe('crash safety', () => {
  it('a claim left by a writer that died before publishing is rolled forward by the next writer', async () => {
    const bundleDir = await committedBundle('claim');
    const dead = await (await open(bundleDir)).extend().setName('from the dead writer');
    const survivor = await (await open(bundleDir)).extend().setName('survivor');
    // simulate the dead writer: publish its commit, then turn it back into a bare claim for 00002
    await dead.commit('dead writer');
    const meta = path.join(bundleDir, '_bundlebase');
    const published = (await readdir(meta)).find((f) => f.startsWith('00002'))!;
    const bytes = await readFile(path.join(meta, published));
    await rm(path.join(meta, published));
    await writeFile(path.join(meta, '.claim-00002'), bytes);
    assert.equal((await open(bundleDir)).history().length, 1, 'readers ignore the claim');
    await expectError(() => survivor.commit('survivor'), 'CONFLICT', /00002/);
    const after = await open(bundleDir);
    assert.deepEqual(after.history().map((c) => c.message), ['base', 'dead writer'], 'the claimed commit was published, not lost');
    assert.equal(after.name, 'from the dead writer');
    assert.ok(!(await readdir(meta)).includes('.claim-00002'));
    await Promise.all([dead.close(), survivor.close(), after.close()]);
  });

  it('a writer killed at any point leaves a bundle that opens at a complete version', { timeout: 180_000 }, async () => {
    const bundleDir = await committedBundle('crashy');
    const seen = new Set<string>();
    for (let round = 0; round < 12; round++) {
      const writer = runCommitter(bundleDir, 1000, `r${round}`);
      await new Promise((resolve) => setTimeout(resolve, 350 + Math.random() * 400));
      writer.child.kill('SIGKILL');
      const { stdout } = await writer.done;
      stdout.trim().split('\n').filter(Boolean).forEach((m) => seen.add(m));
      const b = await open(bundleDir);
      const messages = b.history().map((c) => c.message);
      for (const m of seen) assert.ok(messages.includes(m), `acknowledged commit ${m} survived`);
      assert.equal(await b.numRows(), 300);
      await b.close();
    }
    // a later writer still commits on top, whatever was left behind
    await writeFile(path.join(bundleDir, '_bundlebase', '.tmp-stray'), 'half a manifest');
    const b = await (await open(bundleDir)).extend().setName('after the crashes');
    await b.commit('after');
    const final = await open(bundleDir);
    assert.equal(final.history().at(-1)!.message, 'after');
    const numbers = final.history().length;
    const files = (await readdir(path.join(bundleDir, '_bundlebase'))).filter((f) => /^\d{5}[0-9a-f]{12}\.yaml$/.test(f) && !f.startsWith('00000'));
    assert.equal(files.length, numbers, 'one file per commit, no gaps');
    await b.close();
  });
});

// drift is a referenced source's risk (saveAs 'ref'): a stored copy never changes with its original
describe('source drift', () => {
  it('a changed source makes reads fail with SOURCE_CHANGED naming the file', async () => {
    const file = await writeFixture(path.join(dir, 'drift.csv'), peopleSql(10));
    const bundleDir = path.join(dir, 'drift');
    await create(bundleDir).attach(file, { saveAs: 'ref' }).commit('drift');
    await appendFile(file, '99,9,p99,ssn-99\n');
    const b = await open(bundleDir);
    await expectError(() => b.numRows(), 'SOURCE_CHANGED', /drift\.csv/);
    await expectError(async () => { for await (const _ of b.stream()); }, 'SOURCE_CHANGED', /drift\.csv/);
    await b.close();
  });

  it('a touched source (same size, new mtime) is also refused', async () => {
    const file = await writeFixture(path.join(dir, 'touched.parquet'), peopleSql(10));
    const bundleDir = path.join(dir, 'touched');
    await create(bundleDir).attach(file, { saveAs: 'ref' }).commit('t');
    const later = new Date(Date.now() + 60_000);
    await utimes(file, later, later);
    await expectError(async () => (await open(bundleDir)).schema(), 'SOURCE_CHANGED', /touched\.parquet/);
  });

  it('a vanished source is NOT_FOUND naming the file', async () => {
    const file = await writeFixture(path.join(dir, 'gone.parquet'), peopleSql(10));
    const bundleDir = path.join(dir, 'gone');
    await create(bundleDir).attach(file, { saveAs: 'ref' }).commit('g');
    await rm(file);
    const b = await open(bundleDir);
    await expectError(() => b.toObjects(), 'NOT_FOUND', /gone\.parquet/);
    assert.equal(b.history().length, 1, 'history stays readable');
    await b.close();
  });
});

describe('config', () => {
  it('setConfig is stored, replayed and visible', async () => {
    const bundleDir = path.join(dir, 'config');
    const b = await create(bundleDir).setConfig('region', 'eu-west-1').setConfig('token', 'abc', 's3://bucket/');
    await b.commit('config');
    const r = await open(bundleDir);
    assert.deepEqual(r.config.get('region'), { value: 'eu-west-1' });
    assert.deepEqual(r.config.get('s3://bucket/|token'), { value: 'abc', urlPrefix: 's3://bucket/' });
    assert.deepEqual(r.history()[0]!.changes.map((c) => c.description), ['Set config region', 'Set config token']);
    const configs = operationsOf((await readCommit(bundleDir)).doc).filter((o) => o.type === 'setConfig');
    assert.deepEqual(configs, [
      { type: 'setConfig', key: 'region', value: 'eu-west-1' },
      { type: 'setConfig', key: 'token', value: 'abc', urlPrefix: 's3://bucket/' },
    ]);
    await Promise.all([b.close(), r.close()]);
  });
});

function runCommitter(bundleDir: string, count: number, tag: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('test/support/committer.ts'), bundleDir, String(count), tag], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<{ stdout: string; stderr: string; code: number | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0 && signal !== 'SIGKILL') reject(new Error(`committer ${tag} exited ${code}: ${stderr}`));
      else resolve({ stdout, stderr, code });
    });
  });
  return { child, done };
}
