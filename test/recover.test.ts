import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFile, cp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { before, describe, it } from 'node:test';
import { create, open, type AttachOptions } from '../src/index.js';
import { expectError, operationsOf, readCommit, runCli, tempDir, writeFixture } from './helpers.js';

let dir: string;
// unpacked archives go to a cache of this test process (and the CLI processes it starts)
before(async () => {
  dir = await tempDir('bundlebase-recover-');
  process.env.BUNDLEBASE_CACHE = path.join(dir, 'cache');
});

/**
 * Read the source in place: these tests are about sources that change or travel as files. Once
 * attach stores data by default (saveAs), a referenced source is the one that can break.
 */
const REF = { saveAs: 'ref' } as AttachOptions;

/** Two CSV sources outside the bundle: a (ids 1–3) and b (ids 10–11). */
async function sources(name: string): Promise<{ a: string; b: string; c: string }> {
  const at = path.join(dir, name);
  await import('node:fs/promises').then((fs) => fs.mkdir(at, { recursive: true }));
  const a = await writeFixture(path.join(at, 'a.csv'), 'SELECT i::INTEGER AS id, i * 10 AS amount FROM range(1, 4) t(i)');
  const b = await writeFixture(path.join(at, 'b.csv'), 'SELECT i::INTEGER AS id, i * 10 AS amount FROM range(10, 12) t(i)');
  const c = await writeFixture(path.join(at, 'c.csv'), 'SELECT i::INTEGER AS id, i * 10 AS amount FROM range(20, 22) t(i)');
  return { a, b, c };
}

const ids = async (b: { toColumns(): Promise<Record<string, unknown[]>> }) => ((await b.toColumns()).id ?? []).map(Number).sort((x, y) => x - y);

describe('detach', () => {
  it('removes a block named by its source as attached, or by its block id; persists', async () => {
    const { a, b: bSource } = await sources('detach');
    const bundleDir = path.join(dir, 'detach-bundle');
    const b = await create(bundleDir).attach(a, REF).attach(bSource, REF);
    await b.commit('two sources');
    await b.detach(a);
    assert.deepEqual(await ids(b), [10, 11]);
    assert.deepEqual(b.status().changes.map((c) => c.description), [`Detach ${a}`]);
    await b.commit('without a');
    const op = operationsOf((await readCommit(bundleDir, 2)).doc)[0]!;
    assert.equal(op.type, 'detachBlock');
    const attached = operationsOf((await readCommit(bundleDir, 1)).doc).filter((o) => o.type === 'attachBlock');
    assert.equal(op.id, attached[0]!.id, 'names the block by its id, as upstream does');

    const reopened = await open(bundleDir);
    assert.deepEqual(await ids(reopened), [10, 11]);
    assert.equal(await reopened.numRows(), 2);
    const builder = await reopened.extend();
    await builder.detach(String(attached[1]!.id));
    assert.equal(await builder.numRows(), 0);
    assert.equal((await builder.schema()).fields.length, 0, 'no sources left: an empty bundle');
    await Promise.all([b.close(), reopened.close(), builder.close()]);
  });

  it('refuses an unknown block with NOT_FOUND listing the attached sources, recording nothing', async () => {
    const { a } = await sources('detach-unknown');
    const b = await create().attach(a, REF);
    await expectError(() => b.detach('nope.csv'), 'NOT_FOUND', new RegExp(`No source 'nope.csv'.*attached: ${a.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(block`));
    await expectError(() => b.replace('nope.csv', a), 'NOT_FOUND', /No source 'nope.csv'/);
    assert.equal(b.status().changes.length, 1, 'only the attach');
    await b.close();
  });

  it("a detached source's drift no longer matters, and its index entries are never used", async () => {
    const { a, b: bSource } = await sources('detach-index');
    const b = await create(path.join(dir, 'detach-index-bundle')).attach(a, REF).attach(bSource, REF).createIndex('id');
    await b.commit('indexed');
    await b.detach(a);
    assert.deepEqual(await ids(await b.filter('id = 2')), [], 'the index of a detached block finds nothing');
    await b.undo();
    await b.commit('detached');
    await appendFile(a, '4,40\n');
    const r = await open(path.join(dir, 'detach-index-bundle'));
    assert.deepEqual(await ids(r), [10, 11], 'a changed detached source is not checked');
    const again = await r.extend().reindex();
    assert.equal(again.status().changes.length, 1);
    assert.equal(again.status().changes[0]!.operations.length, 0, 'reindex has nothing to index: b is covered, a is gone');
    await Promise.all([b.close(), r.close(), again.close()]);
  });
});

describe('replace', () => {
  it('swaps a block for another source in one change, in its place; persists', async () => {
    const { a, b: bSource, c } = await sources('replace');
    const bundleDir = path.join(dir, 'replace-bundle');
    const b = await create(bundleDir).attach(a, REF).attach(bSource, REF);
    await b.commit('two sources');
    await b.replace(a, c, REF);
    assert.deepEqual(b.status().changes.map((x) => x.description), [`Replace ${a} with ${c}`]);
    assert.deepEqual(b.status().changes[0]!.operations.map((o) => o.type), ['replaceBlock']);
    assert.deepEqual((await b.toColumns()).id!.map(Number), [20, 21, 10, 11], 'c reads where a did, before b');
    await b.commit('c instead of a');
    const op = operationsOf((await readCommit(bundleDir, 2)).doc)[0]!;
    assert.equal(op.type, 'replaceBlock');
    assert.equal(op.newLocation, c);
    assert.equal((op.block as { numRows: number }).numRows, 2, 'the new source is inspected as attach does');
    const r = await open(bundleDir);
    assert.deepEqual(await ids(r), [10, 11, 20, 21]);
    assert.equal(await r.numRows(), 4);
    await expectError(() => r.extend().replace(c, bSource, REF), 'INVALID_ARGUMENT', /already attached/);
    await Promise.all([b.close(), r.close()]);
  });
});

describe('joined sources', () => {
  it("replace swaps a join's source; detaching its only source is refused", async () => {
    const { a, b: bSource, c } = await sources('join');
    const b = await create().attach(a, REF).join('other', bSource, '$base.id + 9 = other.id', 'left');
    assert.deepEqual((await b.toColumns()).amount_1!.map((v) => (v === null ? null : Number(v))), [100, 110, null]);
    await expectError(() => b.detach(bSource), 'INVALID_ARGUMENT', /only source of join 'other'; replace it instead/);
    await b.replace(bSource, c, REF);
    assert.deepEqual((await b.toColumns()).amount_1, [null, null, null], 'c (ids 20, 21) matches none');
    assert.deepEqual(b.status().changes.map((x) => x.description).at(-1), `Replace ${bSource} with ${c}`);
    await b.close();
  });
});

describe('restore', () => {
  it("makes an earlier version's pipeline current in a new commit; history keeps everything", async () => {
    const { a, b: bSource } = await sources('restore');
    const bundleDir = path.join(dir, 'restore-bundle');
    const b = await create(bundleDir).attach(a, REF).removeColumn('amount');
    await b.commit('a without amount');
    const first = b.version;
    await b.attach(bSource, REF).filter('id > 100').setName('broken');
    await b.commit('a bad filter');
    assert.equal(await b.numRows(), 0);
    await b.restore(first);
    assert.deepEqual(b.status().changes.map((c) => c.description), [`Restore version ${first} (commit 1)`]);
    assert.deepEqual(await ids(b), [1, 2, 3]);
    await b.commit('back to the first version');
    assert.equal(b.name, undefined);
    assert.deepEqual((await b.schema()).fields.map((f) => f.name), ['id']);
    assert.deepEqual(operationsOf((await readCommit(bundleDir, 3)).doc), [{ type: 'restore', version: first, number: 1 }]);

    const r = await open(bundleDir);
    assert.equal(r.history().length, 3);
    assert.deepEqual(await ids(r), [1, 2, 3]);
    const broken = await open(bundleDir, { version: 2 });
    assert.equal(await broken.numRows(), 0, 'the broken version is still in the history');
    // restore by commit number, to a version made after a restore
    const again = await r.extend().restore(2);
    assert.equal(await again.numRows(), 0);
    await again.restore(3);
    assert.deepEqual(await ids(again), [1, 2, 3]);
    await Promise.all([b.close(), r.close(), broken.close(), again.close()]);
  });

  it('refuses an unknown version with NOT_FOUND naming it and saying how to list versions', async () => {
    const { a } = await sources('restore-bad');
    const b = await create(path.join(dir, 'restore-bad-bundle')).attach(a, REF);
    await b.commit('one');
    await expectError(() => b.restore('abcdefabcdef'), 'NOT_FOUND', /Version 'abcdefabcdef' not found.*history\(\).*bundlebase history.*1:[0-9a-f]{12}/);
    await expectError(() => b.restore(7), 'NOT_FOUND', /Version '7' not found/);
    assert.equal(b.status().isEmpty(), true);
    await b.close();
  });
});

describe('editing a bundle whose referenced source is gone', () => {
  it('names the file and the way out (NOT_FOUND), records nothing, and detach still works', async () => {
    const { a, b: bSource } = await sources('edit-broken');
    const bundleDir = path.join(dir, 'edit-broken-bundle');
    const made = await create(bundleDir).attach(a, REF).attach(bSource, REF);
    await made.commit('two sources');
    await made.close();
    await rm(bSource);
    const b = await open(bundleDir);
    const edit = await b.extend();
    // DuckDB would report the missing file as a path outside the sandbox ('…/b.csv/**/*.csv')
    await expectError(() => edit.filter('id = $1', [1]), 'NOT_FOUND', /b\.csv.*no longer exists.*replace.*detach/);
    await expectError(() => edit.addColumn('twice', 'amount * 2'), 'NOT_FOUND', /b\.csv.*no longer exists/);
    assert.equal(edit.status().isEmpty(), true, 'nothing recorded');
    await edit.detach(bSource);
    assert.deepEqual(await ids(edit), [1, 2, 3]);
    // a changed file is refused when read, as before: an edit is recorded, the read names the file
    await appendFile(a, '4,40\n');
    await edit.filter('id > $1', [1]);
    await expectError(() => ids(edit), 'SOURCE_CHANGED', /a\.csv.*changed since it was attached/);
    await edit.replace(a, a);
    assert.deepEqual(await ids(edit), [2, 3, 4]);
    assert.equal(edit.status().changes.length, 3);
    await b.close();
  });
});

/** The CLI's flag for attaching by reference (attach stores data by default). */
const REF_FLAG = ['--save-as', 'ref'];

describe("the README's broken-bundle story, from the command line", () => {
  it('a source that changed: SOURCE_CHANGED, then replace or detach it and read again; a bad filter: restore', async () => {
    const { a, b: bSource } = await sources('cli-story');
    const bundle = path.join(dir, 'cli-story-bundle');
    const cli = async (...args: string[]) => {
      const result = await runCli(args);
      assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
      return result.stdout;
    };
    await cli('create', bundle);
    await cli('attach', bundle, a, ...REF_FLAG);
    await cli('attach', bundle, bSource, ...REF_FLAG);
    await cli('commit', bundle, '-m', 'sales');
    await appendFile(a, '4,40\n');
    const broken = await runCli(['count', bundle]);
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /changed since it was attached.*replace.*detach/);
    // accept the new content: replace the source by itself
    assert.match(await cli('replace', bundle, a, a), /Replace .*a\.csv with .*a\.csv/);
    assert.equal((await cli('count', bundle)).trim(), '6');
    await cli('commit', bundle, '-m', 'a changed');
    await rm(bSource);
    assert.equal((await runCli(['count', bundle])).code, 1);
    assert.match(await cli('detach', bundle, bSource), /Detach .*b\.csv/);
    assert.equal((await cli('count', bundle)).trim(), '4');
    await cli('commit', bundle, '-m', 'b gone');
    const good = (await cli('history', bundle, '-f', 'json')).trim().split('\n').map((l) => JSON.parse(l) as { version: string }).at(-1)!.version;
    await cli('filter', bundle, 'amount > $1', '-p', '1000');
    await cli('commit', bundle, '-m', 'oops');
    assert.equal((await cli('count', bundle)).trim(), '0');
    assert.match(await cli('restore', bundle, good), new RegExp(`Restore version ${good}`));
    await cli('commit', bundle, '-m', 'undo the bad filter');
    assert.equal((await cli('count', bundle)).trim(), '4');
    const unknown = await runCli(['restore', bundle, 'ffffffffffff']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /Version 'ffffffffffff' not found.*bundlebase history/);
    // a path from the current directory names the same file however it was attached
    const relative = await runCli(['detach', bundle, path.relative(process.cwd(), a)]);
    assert.equal(relative.code, 0, relative.stderr);
    assert.match(relative.stdout, /Detach .*a\.csv/);
    await cli('reset', bundle);
    const missing = await runCli(['detach', bundle, 'nothing.csv']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No source 'nothing.csv'.*attached: .*a\.csv/);
  });
});

/**
 * Under `root`: a bundle P (a source inside it, one outside, a view) and an extension E beside it
 * (a filter and a view of its own). Returns what reading them shows, to compare after a move.
 */
async function chainWithViews(root: string) {
  const { a: outside } = await sources(path.relative(dir, path.join(root, 'src')));
  const parent = path.join(root, 'P');
  const extension = path.join(root, 'E');
  await import('node:fs/promises').then((fs) => fs.mkdir(path.join(parent, 'data'), { recursive: true }));
  await writeFixture(path.join(parent, 'data', 'in.csv'), 'SELECT i::INTEGER AS id, i * 10 AS amount FROM range(50, 53) t(i)');
  const p = await create(parent).attach('data/in.csv', REF).attach(outside, REF);
  await p.createView('big', await p.select('SELECT * FROM bundle WHERE amount >= $1', [30]));
  await p.commit('P with a view');
  const e = await (await open(parent)).extend(extension).filter('id <> $1', [51]);
  await e.createView('small', await e.select('SELECT id FROM bundle WHERE id < 10'));
  await e.commit('E extends P');
  await Promise.all([p.close(), e.close()]);
  return { parent, extension, outside };
}

/** Everything the tests compare: rows, both views (by view() and by name in SQL), history. */
async function snapshot(url: string) {
  const b = await open(url);
  const small = await b.view('small');
  const big = await b.view('big');
  const bySql = await b.select('SELECT count(*) AS n FROM small');
  const shown = {
    rows: await ids(b),
    small: await ids(small),
    big: await ids(big),
    smallBySql: Number((await bySql.toColumns()).n![0]),
    views: [...b.views().values()],
    history: b.history().map((c) => `${c.version} ${c.message}`),
  };
  await Promise.all([b.close(), small.close(), big.close(), bySql.close()]);
  return shown;
}

describe('packed bundles: exportTar and open x.tar', () => {
  for (const gzip of [false, true]) {
    it(`opens an archive on its own (${gzip ? '.tar.gz' : '.tar'}): chain, views and referenced sources travel`, async () => {
      const root = path.join(dir, `pack-${gzip}`);
      const { parent, extension } = await chainWithViews(root);
      const before = await snapshot(extension);
      assert.deepEqual(before.rows, [1, 2, 3, 50, 52]);
      const archive = path.join(dir, `shipped-${gzip}.${gzip ? 'tar.gz' : 'tar'}`);
      const e = await open(extension);
      await e.exportTar(archive, { gzip });
      await e.close();
      const bytes = await readFile(archive);
      assert.equal(bytes[0] === 0x1f && bytes[1] === 0x8b, gzip, 'gzip as asked');
      await rm(root, { recursive: true }); // the bundles and every source
      const after = await snapshot(archive);
      assert.deepEqual(after, before);
      const r = await open(archive);
      assert.ok(r.url.startsWith(path.join(dir, 'cache')), `unpacked into BUNDLEBASE_CACHE: ${r.url}`);
      assert.deepEqual(after.big, [3, 50, 51, 52], "the parent's view, read from the archive");
      assert.ok(parent.length > 0);
      await r.close();
    });
  }

  it('opens tar+file:// URLs; is read-only; the command line reads it too', async () => {
    const root = path.join(dir, 'pack-url');
    const { extension } = await chainWithViews(root);
    const archive = path.join(dir, 'url.tar');
    const e = await open(extension);
    await e.exportTar(archive);
    await e.close();
    const exported = await runCli(['export-tar', extension, path.join(dir, 'cli.tgz')]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stdout, /Exported .* to .*cli\.tgz/);
    // two opens at once, nothing cached yet: both unpack, one copy is kept, both read it
    const [r, other] = await Promise.all([open(`tar+${pathToFileURL(archive).href}`), open(archive)]);
    assert.equal(r.url, other.url);
    assert.deepEqual(await ids(other), [1, 2, 3, 50, 52]);
    await other.close();
    assert.deepEqual((await readdir(path.join(dir, 'cache', 'archives'))).filter((n) => n.startsWith('.tmp-')), [], 'no temporary directory left');
    assert.deepEqual(await ids(r), [1, 2, 3, 50, 52]);
    await expectError(() => r.extend(), 'READ_ONLY', /packed archive, opened read-only/);
    await expectError(() => r.extend(path.join(dir, 'elsewhere')), 'READ_ONLY', /read-only/);
    // an opened archive packs again, its packed sources included
    await r.exportTar(path.join(dir, 'again.tar'));
    await r.close();
    await rm(root, { recursive: true });
    const again = await open(path.join(dir, 'again.tar'));
    assert.deepEqual(await ids(again), [1, 2, 3, 50, 52]);
    await again.close();
    const count = await runCli(['count', archive]);
    assert.equal(count.code, 0, count.stderr);
    assert.equal(count.stdout.trim(), '5');
    const attach = await runCli(['filter', archive, 'id > 1']);
    assert.equal(attach.code, 1);
    assert.match(attach.stderr, /read-only/);
    assert.equal((await runCli(['count', path.join(dir, 'cli.tgz')])).stdout.trim(), '5');
  });

  it('unpacks once: a second open reuses the cached copy', async () => {
    const root = path.join(dir, 'pack-cache');
    const { extension } = await chainWithViews(root);
    const archive = path.join(dir, 'cached.tar');
    const e = await open(extension);
    await e.exportTar(archive);
    await e.close();
    const first = await open(archive);
    const unpacked = first.url;
    await first.close();
    // remove the newest commit from the cached copy: a re-unpack would bring it back
    const meta = path.join(unpacked, '_bundlebase');
    const newest = (await readdir(meta)).filter((f) => /^\d{5}[0-9a-f]{12}\.yaml$/.test(f)).sort().at(-1)!;
    await rm(path.join(meta, newest));
    const second = await Promise.all([open(archive), open(archive)]);
    for (const b of second) {
      assert.equal(b.url, unpacked);
      assert.equal(b.history().at(-1)!.message, 'P with a view', 'the cached copy was used');
    }
    await Promise.all(second.map((b) => b.close()));
    // the same name with other content is another archive
    const changed = await (await open(extension)).extend().setName('changed');
    await changed.commit('renamed');
    await changed.exportTar(archive);
    await changed.close();
    const third = await open(archive);
    assert.notEqual(third.url, unpacked);
    assert.equal(third.name, 'changed');
    await third.close();
  });

  it("keeps the trust model: an archive's SQL reads its own files only", async () => {
    const { a } = await sources('pack-trust');
    const bundleDir = path.join(dir, 'pack-trust-bundle');
    await create(bundleDir).attach(a, REF).commit('one');
    // a commit someone wrote by hand, whose filter reads a file of the machine opening it
    const text = `author: x\nmessage: sneaky\ntimestamp: 2026-01-01T00:00:00Z\nchanges:\n  - id: c1\n    description: Filter\n    operations:\n      - type: filter\n        whereClause: (SELECT count(*) FROM read_text('${a}')) > 0\n        parameters: []\n`;
    const hash = createHash('sha256').update(text).digest('hex').slice(0, 12);
    await writeFile(path.join(bundleDir, '_bundlebase', `00002${hash}.yaml`), text);
    const archive = path.join(dir, 'trust.tar');
    const b = await open(bundleDir);
    await b.exportTar(archive);
    await b.close();
    const r = await open(archive);
    await expectError(() => r.toObjects(), 'UNTRUSTED', /may not read/);
    assert.equal(r.history().length, 2, 'metadata still reads');
    await r.close();
  });

  it('refuses bad names, memory bundles and changed sources, writing nothing', async () => {
    const { a } = await sources('pack-bad');
    const bundleDir = path.join(dir, 'pack-bad-bundle');
    await create(bundleDir).attach(a, REF).commit('one');
    const b = await open(bundleDir);
    await expectError(() => b.exportTar(path.join(dir, 'x.zip')), 'INVALID_ARGUMENT', /must end in \.tar, \.tar\.gz or \.tgz/);
    await appendFile(a, '9,90\n');
    await expectError(() => b.exportTar(path.join(dir, 'changed.tar')), 'SOURCE_CHANGED', /a\.csv/);
    assert.equal((await readdir(dir)).includes('changed.tar'), false);
    const memory = await create().attach(a, REF);
    await expectError(() => memory.exportTar(path.join(dir, 'memory.tar')), 'INVALID_ARGUMENT', /in memory/);
    await expectError(() => open(path.join(dir, 'missing.tar')), 'NOT_FOUND', /missing\.tar does not exist/);
    await writeFile(path.join(dir, 'junk.tar'), 'not a tar');
    await expectError(() => open(path.join(dir, 'junk.tar')), 'IO_ERROR', /junk\.tar/);
    await Promise.all([b.close(), memory.close()]);
  });
});

describe('relocation', () => {
  it('cp -r of a bundle with views and an extension beside it opens and reads identically', async () => {
    const root = path.join(dir, 'move-from');
    const { parent, extension, outside } = await chainWithViews(root);
    assert.equal((await readFile(path.join(extension, '_bundlebase', '00000000000000000.yaml'), 'utf8')).trim(), 'from: ../P');
    const before = await snapshot(extension);
    const moved = path.join(dir, 'move-to');
    // timestamps kept: referenced sources inside the bundle are checked by size and modification time
    await cp(path.join(root, 'P'), path.join(moved, 'P'), { recursive: true, preserveTimestamps: true });
    await cp(path.join(root, 'E'), path.join(moved, 'E'), { recursive: true, preserveTimestamps: true });
    await rm(parent, { recursive: true });
    await rm(extension, { recursive: true });
    assert.deepEqual(await snapshot(path.join(moved, 'E')), before);
    assert.ok(outside.length > 0, 'the outside source stays where it was');
  });

  it('a copied view of an older manifest (absolute from:) finds its parent around it', async () => {
    const root = path.join(dir, 'old-view');
    const { parent } = await chainWithViews(root);
    const p = await open(parent);
    const [id] = [...p.views().keys()];
    await p.close();
    await writeFile(path.join(parent, `view_${id}`, '_bundlebase', '00000000000000000.yaml'), `from: ${parent}\n`);
    const moved = path.join(dir, 'old-view-moved');
    await cp(parent, moved, { recursive: true, preserveTimestamps: true });
    // the original stays and changes: the copy's view reads the copy
    const original = await (await open(parent)).extend().filter('id > 50');
    await original.commit('the original moves on');
    await original.close();
    const r = await open(moved);
    const view = await r.view('big');
    assert.deepEqual(await ids(view), [3, 50, 51, 52]);
    await Promise.all([r.close(), view.close()]);
  });
});

describe('the REPL', () => {
  it('DETACH and RESTORE stage changes like the one-shot commands', async () => {
    const { a, b: bSource } = await sources('repl');
    const bundle = path.join(dir, 'repl-bundle');
    const first = await create(bundle).attach(a, REF).attach(bSource, REF);
    await first.commit('two');
    const version = first.version;
    await first.filter('id > 100');
    await first.commit('nothing left');
    await first.close();
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [path.resolve('dist/cli/main.js'), 'repl', bundle], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, BUNDLEBASE_HISTORY: path.join(dir, 'repl-history') } });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stdin.end([`RESTORE ${version}`, 'SHOW COUNT', `DETACH '${a}'`, 'SHOW COUNT', "DETACH 'nope.csv'", 'EXIT', ''].join('\n'));
    assert.equal(await new Promise<number | null>((resolve) => child.on('close', resolve)), 0);
    assert.match(output, new RegExp(`Restore version ${version}[^]*\\n *5\\n[^]*Detach[^]*\\n *2\\n[^]*error: No source 'nope.csv'`));
    const status = await runCli(['status', bundle]);
    assert.match(status.stdout, /1\. Restore version [^]*2\. Detach /);
  });
});
