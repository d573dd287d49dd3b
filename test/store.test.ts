import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFile, cp, mkdir, open as openFile, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { create, open, type BundleBuilder } from '../src/index.js';
import { expectError, operationsOf, readCommit, runCli, tempDir, writeFixture } from './helpers.js';

let dir: string;
before(async () => {
  dir = await tempDir('bundlebase-store-');
  process.env.BUNDLEBASE_CACHE = path.join(dir, 'cache');
});

/** A CSV (ids 1–3) and a Parquet file (ids 10–11) in a folder of their own, outside any bundle. */
async function sources(name: string): Promise<{ csv: string; parquet: string; json: string }> {
  const at = path.join(dir, name);
  await mkdir(at, { recursive: true });
  const csv = await writeFixture(path.join(at, 'a.csv'), 'SELECT i::INTEGER AS id, i * 10 AS amount FROM range(1, 4) t(i)');
  const parquet = await writeFixture(path.join(at, 'b.parquet'), 'SELECT i::INTEGER AS id, i * 10 AS amount FROM range(10, 12) t(i)');
  const json = path.join(at, 'c.json');
  await writeFile(json, '{"id":20,"amount":200}\n');
  return { csv, parquet, json };
}

const ids = async (b: { toColumns(): Promise<Record<string, unknown[]>> }) => ((await b.toColumns()).id ?? []).map(Number).sort((x, y) => x - y);
const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

/** Every stored file under a bundle directory (content-addressed: `<2 hex>/<14 hex>.block.data.<ext>`). */
async function storedFiles(bundleDir: string): Promise<string[]> {
  const all = await readdir(bundleDir, { recursive: true });
  return all.filter((f) => /^[0-9a-f]{2}\/[0-9a-f]{14}\.block\.data\.\w+$/.test(f.split(path.sep).join('/'))).sort();
}

describe('attach stores its data in the bundle', () => {
  it('auto: a CSV becomes Parquet inside the bundle; changing or deleting the original changes nothing', async () => {
    const { csv } = await sources('auto');
    const bundleDir = path.join(dir, 'auto-bundle');
    const b = await create(bundleDir).attach(csv);
    await b.commit('stored');
    await b.close();
    const op = operationsOf((await readCommit(bundleDir)).doc).find((o) => o.type === 'attachBlock')!;
    assert.equal(op.source, csv, 'the source as given');
    assert.match(String(op.location), /^[0-9a-f]{2}\/[0-9a-f]{14}\.block\.data\.parquet$/);
    const stored = path.join(bundleDir, String(op.location));
    assert.equal(op.hash, await sha256(stored), 'the stored copy named by its SHA-256');
    assert.equal(String(op.location), `${String(op.hash).slice(0, 2)}/${String(op.hash).slice(2, 16)}.block.data.parquet`);
    assert.equal((await readFile(stored)).subarray(0, 4).toString(), 'PAR1');

    await appendFile(csv, '4,40\n');
    let r = await open(bundleDir);
    assert.deepEqual(await ids(r), [1, 2, 3]);
    await r.close();
    await rm(csv);
    r = await open(bundleDir);
    assert.deepEqual(await ids(r), [1, 2, 3]);
    assert.equal(await r.numRows(), 3);
    assert.deepEqual(await r.verifyData(), { ok: true, problems: [] });
    await r.close();
  });

  it("ref: read in place, so a changed original is SOURCE_CHANGED and a deleted one NOT_FOUND", async () => {
    const { csv } = await sources('ref');
    const bundleDir = path.join(dir, 'ref-bundle');
    const b = await create(bundleDir).attach(csv, { saveAs: 'ref' });
    await b.commit('referenced');
    await b.close();
    assert.deepEqual(await storedFiles(bundleDir), []);
    const op = operationsOf((await readCommit(bundleDir)).doc).find((o) => o.type === 'attachBlock')!;
    assert.equal(op.location, undefined);
    await appendFile(csv, '4,40\n');
    const r = await open(bundleDir);
    await expectError(() => r.toObjects(), 'SOURCE_CHANGED', /a\.csv/);
    const check = await r.verifyData();
    assert.equal(check.ok, false);
    assert.deepEqual(check.problems.map((p) => [p.kind, p.source, p.file]), [['changed', csv, csv]]);
    await rm(csv);
    await expectError(() => r.toObjects(), 'NOT_FOUND', /a\.csv/);
    assert.deepEqual((await r.verifyData()).problems.map((p) => [p.kind, p.actual]), [['missing', null]]);
    await r.close();
  });

  it('auto copies Parquet byte for byte; copy keeps a CSV as it is; parquet converts JSON; progress is reported', async () => {
    const { csv, parquet, json } = await sources('modes');
    const bundleDir = path.join(dir, 'modes-bundle');
    const seen: number[] = [];
    const b = await create(bundleDir)
      .attach(parquet, { onProgress: (p) => seen.push(p.percentage) })
      .attach(csv, { saveAs: 'copy' })
      .attach(json, { saveAs: 'parquet' });
    await b.commit('three ways');
    const [p, c, j] = operationsOf((await readCommit(bundleDir)).doc).filter((o) => o.type === 'attachBlock');
    assert.equal(p!.hash, await sha256(parquet), 'Parquet copied as is');
    assert.match(String(p!.location), /\.block\.data\.parquet$/);
    assert.equal(c!.hash, await sha256(csv), 'CSV copied as is');
    assert.match(String(c!.location), /\.block\.data\.csv$/);
    assert.match(String(j!.location), /\.block\.data\.parquet$/);
    assert.equal(seen.at(-1), 100);
    await Promise.all([csv, parquet, json].map((f) => rm(f)));
    assert.deepEqual(await ids(b), [1, 2, 3, 10, 11, 20]);
    await b.close();
  });

  it('a function source defaults to ref; parquet materialises its rows now', async () => {
    const bundleDir = path.join(dir, 'function-bundle');
    const rows = (n: number) => (page: number) => (page === 0 ? Array.from({ length: n }, (_, i) => ({ id: i })) : null);
    const b = await create(bundleDir).defineFunction({ name: 'stored_rows', output: { id: 'Int32' }, fn: rows(3) }).attach('function://stored_rows', { saveAs: 'parquet' });
    const live = await create().defineFunction({ name: 'live_rows', output: { id: 'Int32' }, fn: rows(2) }).attach('function://live_rows');
    await b.commit('materialised');
    const op = operationsOf((await readCommit(bundleDir)).doc).find((o) => o.type === 'attachBlock')!;
    assert.equal(op.source, 'function://stored_rows');
    assert.match(String(op.location), /\.block\.data\.parquet$/);
    assert.deepEqual(live.status().changes.at(-1)!.operations.filter((o) => o.type === 'attachBlock').map((o) => (o as { toManifest(): Record<string, unknown> }).toManifest().location), [undefined]);
    // the function now yields something else: the stored rows are what the bundle reads
    await b.defineFunction({ name: 'stored_rows', output: { id: 'Int32' }, fn: rows(5) });
    assert.deepEqual(await ids(b), [0, 1, 2]);
    await Promise.all([b.close(), live.close()]);
  });

  it("the statement language: ATTACH … WITH (save_as = …)", async () => {
    const { csv, parquet } = await sources('statements');
    const b = await create(path.join(dir, 'statements-bundle'));
    await b.execute(`ATTACH '${csv}' WITH (save_as = 'ref'); ATTACH '${parquet}' WITH (save_as = COPY)`);
    const [ref, copy] = b.operations().filter((o) => o.type === 'attachBlock').map((o) => (o as unknown as { stored: boolean }).stored);
    assert.deepEqual([ref, copy], [false, true]);
    await expectError(() => b.execute(`ATTACH '${csv}' WITH (save_as = 'zip')`), 'INVALID_ARGUMENT', /saveAs 'zip'/);
    await b.close();
  });

  it('an in-memory bundle keeps its stored files in a temporary directory removed when its last handle closes', async () => {
    const { csv } = await sources('memory');
    const b = await create().attach(csv);
    await b.commit('in memory');
    const stored = (b.operations().find((o) => o.type === 'attachBlock') as unknown as { location: string }).location;
    assert.ok(path.isAbsolute(stored) && !stored.startsWith(dir), stored);
    await rm(csv);
    const r = await open(b.url);
    assert.deepEqual(await ids(r), [1, 2, 3]);
    await r.close();
    assert.ok(await stat(stored).then(() => true), 'still held by the builder');
    await b.close();
    await assert.rejects(stat(stored), 'removed with the last handle');
  });
});

describe('moving a bundle with stored data', () => {
  /** A bundle, a view and an extension in a sibling directory, all stored; then its sources removed. */
  async function chain(name: string): Promise<{ base: string; ext: string }> {
    const { csv, parquet, json } = await sources(name);
    const base = path.join(dir, name, 'base');
    const ext = path.join(dir, name, 'ext');
    const b = await create(base).attach(csv).attach(parquet);
    await b.createView('big', await b.select('SELECT * FROM bundle WHERE amount >= $1', [20]));
    await b.commit('base with a view');
    await b.filter('id <> 2');
    await b.commit('drop id 2');
    const e = await (await open(base)).extend(ext).attach(json);
    await e.commit('one more source');
    await Promise.all([b.close(), e.close()]);
    await Promise.all([csv, parquet, json].map((f) => rm(f)));
    return { base, ext };
  }

  async function readsLikeTheOriginal(base: string, ext: string): Promise<void> {
    const e = await open(ext);
    assert.deepEqual(await ids(e), [1, 3, 10, 11, 20]);
    assert.deepEqual(e.history().map((c) => c.message), ['base with a view', 'drop id 2', 'one more source']);
    const v = await (await open(base)).view('big');
    assert.deepEqual(await ids(v), [3, 10, 11], "the parent's latest commit, then the view's select");
    const old = await open(base, { version: 1 });
    assert.deepEqual(await ids(old), [1, 2, 3, 10, 11]);
    assert.equal((await e.verifyData()).ok, true);
    await Promise.all([e.close(), v.close(), old.close()]);
  }

  it('cp -r to another place, originals removed: reads, history and views are the same', async () => {
    const { base, ext } = await chain('copied');
    const elsewhere = path.join(dir, 'moved');
    await cp(path.dirname(base), elsewhere, { recursive: true });
    await rm(path.dirname(base), { recursive: true });
    await readsLikeTheOriginal(path.join(elsewhere, 'base'), path.join(elsewhere, 'ext'));
  });

  it('exportTar (plain and gzip) opens on its own with the stored data, views and the extension chain', async () => {
    const { base, ext } = await chain('packed');
    for (const name of ['packed.tar', 'packed.tar.gz']) {
      const archive = path.join(dir, name);
      const e = await open(ext);
      await e.exportTar(archive);
      await e.close();
      const r = await open(archive);
      assert.deepEqual(await ids(r), [1, 3, 10, 11, 20]);
      assert.deepEqual(r.history().map((c) => c.message), ['base with a view', 'drop id 2', 'one more source']);
      assert.equal((await r.verifyData()).ok, true);
      await r.close();
    }
    assert.ok(base);
  });
});

describe('integrity', () => {
  it('a damaged stored file is named by verifyData (and bundlebase verify), and reads refuse it', async () => {
    const { csv, parquet } = await sources('corrupt');
    const bundleDir = path.join(dir, 'corrupt-bundle');
    const b = await create(bundleDir).attach(csv).attach(parquet);
    await b.commit('two stored');
    assert.deepEqual(await ids(b), [1, 2, 3, 10, 11]);
    await b.close();
    const [, damaged] = operationsOf((await readCommit(bundleDir)).doc).filter((o) => o.type === 'attachBlock');
    const file = path.join(bundleDir, String(damaged!.location));
    const handle = await openFile(file, 'r+');
    const [byte] = (await handle.read(Buffer.alloc(1), 0, 1, 100)).buffer;
    await handle.write(Buffer.from([byte! ^ 0xff]), 0, 1, 100);
    await handle.close();

    const r = await open(bundleDir);
    const check = await r.verifyData();
    assert.equal(check.ok, false);
    assert.deepEqual(check.problems.map((p) => ({ ...p, actual: typeof p.actual })), [
      { source: parquet, block: String(damaged!.id), file, kind: 'corrupt', expected: damaged!.hash, actual: 'string' },
    ]);
    await expectError(() => r.toObjects(), 'DATA_CORRUPT', new RegExp(String(damaged!.location).replace('.', '\\.')));
    await r.close();

    const cli = await runCli(['verify', bundleDir]);
    assert.equal(cli.code, 1);
    assert.match(cli.stdout, new RegExp(`corrupt: ${file.replaceAll('.', '\\.')}`));
  });

  it('a stored file hashed once is remembered across processes, but a write with its time set back is hashed again', async () => {
    const { parquet } = await sources('remembered');
    const bundleDir = path.join(dir, 'remembered-bundle');
    const b = await create(bundleDir).attach(parquet);
    await b.commit('stored');
    await b.close();
    const count = await runCli(['count', bundleDir]);
    assert.deepEqual([count.code, count.stdout.trim()], [0, '2']);
    const memos = await readdir(path.join(process.env.BUNDLEBASE_CACHE!, 'hashes'));
    assert.ok(memos.length > 0, 'the first read remembers the hash');

    const [op] = operationsOf((await readCommit(bundleDir)).doc).filter((o) => o.type === 'attachBlock');
    const file = path.join(bundleDir, String(op!.location));
    const { mtime, atime } = await stat(file);
    const handle = await openFile(file, 'r+');
    const [byte] = (await handle.read(Buffer.alloc(1), 0, 1, 100)).buffer;
    await handle.write(Buffer.from([byte! ^ 0xff]), 0, 1, 100);
    await handle.close();
    await utimes(file, atime, mtime); // same size, same modification time: only the change time tells
    const after = await runCli(['count', bundleDir]);
    assert.equal(after.code, 1, after.stderr);
    assert.match(after.stderr, /DATA_CORRUPT|damaged|corrupt/i);
  });

  it('bad input: an unknown saveAs, a file that does not convert, copy of a function: coded errors, nothing recorded or stored', async () => {
    const { csv } = await sources('bad');
    const bundleDir = path.join(dir, 'bad-bundle');
    const b: BundleBuilder = await create(bundleDir).attach(csv, { saveAs: 'ref' });
    const before = b.status().totalOperations;
    await expectError(() => b.attach(csv, { saveAs: 'zip' as never }), 'INVALID_ARGUMENT', /saveAs 'zip'.*auto, copy, parquet, ref/);
    const garbage = path.join(dir, 'bad', 'garbage.parquet');
    await writeFile(garbage, 'not parquet at all');
    await expectError(() => b.attach(garbage, { saveAs: 'parquet' }), 'SQL_ERROR', /garbage\.parquet/);
    await expectError(() => b.attach(garbage), 'SQL_ERROR', /garbage\.parquet/);
    await expectError(() => b.attach('function://nothing_defined', { saveAs: 'copy' }), 'INVALID_ARGUMENT', /function source/);
    assert.equal(b.status().totalOperations, before);
    assert.deepEqual(await storedFiles(bundleDir), []);
    assert.deepEqual((await readdir(bundleDir).catch(() => [])).filter((f) => f.startsWith('.tmp-')), []);
    await b.close();
  });
});

describe('command line', () => {
  it('attach resolves a path from the current directory: relative to the bundle inside it, else absolute; --save-as', async () => {
    const work = path.join(dir, 'cli');
    const { csv } = await sources('cli');
    await mkdir(work, { recursive: true });
    await cp(csv, path.join(work, 'sales.csv'));
    assert.equal((await runCli(['create', 'sales'], {}, work)).code, 0);
    await cp(csv, path.join(work, 'sales', 'inside.csv'));
    const attached = await runCli(['attach', 'sales', 'sales.csv'], {}, work);
    assert.equal(attached.code, 0, attached.stderr);
    assert.equal((await runCli(['attach', 'sales', 'sales/inside.csv', '--save-as', 'ref'], {}, work)).code, 0);
    assert.equal((await runCli(['commit', 'sales', '-m', 'two'], {}, work)).code, 0);
    const [outside, inside] = operationsOf((await readCommit(path.join(work, 'sales'))).doc).filter((o) => o.type === 'attachBlock');
    assert.equal(outside!.source, path.join(work, 'sales.csv'));
    assert.ok(outside!.hash, 'stored');
    assert.equal(inside!.source, 'inside.csv');
    assert.equal(inside!.hash, undefined, 'referenced');
    const count = await runCli(['count', 'sales'], {}, work);
    assert.equal(count.stdout.trim(), '6');
    const verify = await runCli(['verify', 'sales'], {}, work);
    assert.equal(verify.code, 0, verify.stderr);
  });

  it('exec and the REPL read ATTACH paths from the current directory too', async () => {
    const work = path.join(dir, 'statements-cwd');
    const { csv } = await sources('statements-cwd');
    await mkdir(work, { recursive: true });
    await cp(csv, path.join(work, 'here.csv'));
    assert.equal((await runCli(['create', 'by-exec'], {}, work)).code, 0);
    const exec = await runCli(['exec', 'by-exec', "ATTACH 'here.csv'; COMMIT 'from exec'"], {}, work);
    assert.equal(exec.code, 0, exec.stderr);
    assert.equal((await runCli(['create', 'by-repl'], {}, work)).code, 0);
    const child = spawn(process.execPath, [path.resolve('dist/cli/main.js'), 'repl', 'by-repl'], { cwd: work, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, BUNDLEBASE_HISTORY: path.join(work, 'history') } });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stdin.end(["ATTACH 'here.csv';", "COMMIT 'from the repl';", 'EXIT', ''].join('\n'));
    assert.equal(await new Promise<number | null>((resolve) => child.on('close', resolve)), 0);
    assert.doesNotMatch(output, /error/i, output);
    for (const bundle of ['by-exec', 'by-repl']) {
      const [op] = operationsOf((await readCommit(path.join(work, bundle))).doc).filter((o) => o.type === 'attachBlock');
      assert.equal(op!.source, path.join(work, 'here.csv'), bundle);
      assert.equal((await runCli(['count', bundle], {}, work)).stdout.trim(), '3', bundle);
    }
  });
});
