import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { privateTempDir } from '../src/engine/engine.js';
import { create, open, serve, type BuilderChain } from '../src/index.js';
import { expectError, runCli, tempDir, writeFixture } from './helpers.js';


/**
 * A bundle someone sent you is opened with a trust store of its own: on this "machine" nobody
 * attached its sources. `body` runs with that store, the test process's own is restored after.
 */
async function asAnotherUser<T>(body: () => Promise<T>): Promise<T> {
  const own = process.env.BUNDLEBASE_TRUST_FILE;
  process.env.BUNDLEBASE_TRUST_FILE = path.join(await tempDir(), 'trusted-sources');
  try {
    return await body();
  } finally {
    process.env.BUNDLEBASE_TRUST_FILE = own;
  }
}

const cli = (env: NodeJS.ProcessEnv, ...args: string[]) => runCli(args, env);

let dir: string;
let secret: string;
// every source here is referenced (saveAs 'ref'): these tests are about what a bundle may read in place
/** A bundle whose source lies outside it, in a sibling directory (`../victim/private.csv`). */
let outside: string;
/** A bundle whose source is inside its own directory. */
let inside: string;

before(async () => {
  dir = await tempDir();
  await mkdir(path.join(dir, 'victim'));
  secret = await writeFixture(path.join(dir, 'victim', 'private.csv'), "SELECT 1 AS id, 'top secret' AS note");
  outside = path.join(dir, 'outside');
  const b = await create(outside).attach('../victim/private.csv', { saveAs: 'ref' });
  await b.commit('a source outside the bundle');
  await b.close();
  inside = path.join(dir, 'inside');
  await mkdir(inside);
  await writeFixture(path.join(inside, 'data.parquet'), 'SELECT i AS id FROM range(5) t(i)');
  const c = await create(inside).attach('data.parquet', { saveAs: 'ref' });
  await c.commit('a source inside the bundle');
  await c.close();
});

describe('opening a bundle someone sent you', () => {
  it('reads its own sources without any trust', async () => {
    await asAnotherUser(async () => {
      const b = await open(inside);
      assert.equal((await b.toObjects()).length, 5);
      await b.close();
    });
  });

  it('its restricted database makes no spill directory when nothing spills', async () => {
    await asAnotherUser(async () => {
      const b = await open(inside);
      assert.equal((await b.toObjects()).length, 5);
      await b.close();
    });
    // nothing in this file spills, and each bundle above was read in a restricted database of its own
    assert.deepEqual(readdirSync(privateTempDir()).filter((name) => name.startsWith('spill-')), []);
  });

  it('refuses a source outside its directories, naming it and how to allow it', async () => {
    await asAnotherUser(async () => {
      const b = await open(outside);
      for (const read of [() => b.toObjects(), () => b.schema(), () => b.numRows(), () => b.export(path.join(dir, 'x.parquet'))]) {
        await expectError(read, 'UNTRUSTED', /victim\/private\.csv.*outside the bundle's directories.*trust: \[.*--trust/s);
      }
      assert.deepEqual(b.history().length, 1, 'metadata stays readable');
      await b.close();
    });
  });

  it('reads it when trusted by path, by a parent directory or entirely', async () => {
    await asAnotherUser(async () => {
      for (const trust of [[secret], [path.join(dir, 'victim')], true] as const) {
        const b = await open(outside, { trust: trust as never });
        assert.deepEqual((await b.toObjects()).map((r) => r.note), ['top secret'], `trust ${JSON.stringify(trust)}`);
        await b.close();
      }
    });
  });

  it('keeps working for the user who attached the source (the trust store)', async () => {
    // this test process attached ../victim/private.csv in before(): its trust store says so
    const b = await open(outside);
    assert.equal((await b.toObjects()).length, 1);
    await b.close();
  });

  it('refuses a symlink inside the bundle that points outside it', async () => {
    const linked = path.join(dir, 'linked');
    await mkdir(linked);
    await writeFixture(path.join(linked, 'data.csv'), 'SELECT 1 AS id');
    const b = await create(linked).attach('data.csv', { saveAs: 'ref' });
    await b.commit('inside');
    await b.close();
    // the sender swaps the file for a link to a file of the receiver's
    const { rm } = await import('node:fs/promises');
    await rm(path.join(linked, 'data.csv'));
    await symlink(secret, path.join(linked, 'data.csv'));
    await asAnotherUser(async () => {
      const opened = await open(linked);
      await expectError(() => opened.toObjects(), 'UNTRUSTED', /data\.csv/);
      await opened.close();
    });
  });

  it("refuses manifest SQL that reads files, in a select and in a filter's subquery", async () => {
    const hostname = await writeFixture(path.join(dir, 'victim', 'hostname.csv'), "SELECT 'box' AS h");
    const reads = `(SELECT count(*) FROM read_text('${hostname}'))`;
    for (const [name, change] of [
      ['select', (b: BuilderChain) => b.select(`SELECT *, ${reads} AS leak FROM bundle`)],
      ['filter', (b: BuilderChain) => b.filter(`${reads} = 1`)],
    ] as const) {
      // the sender builds it on their machine, where they trust everything
      const target = path.join(dir, `evil-${name}`);
      const base = await open(inside, { trust: true });
      const built = await change(base.extend(target));
      await built.commit(`a ${name} that reads a file`);
      await Promise.all([built.close(), base.close()]);
      await asAnotherUser(async () => {
        const b = await open(target);
        await expectError(() => b.toObjects(), 'UNTRUSTED', new RegExp(`${path.basename(hostname)}.*trust`));
        await b.close();
        const trusted = await open(target, { trust: true });
        assert.equal((await trusted.toObjects()).length, 5);
        await trusted.close();
      });
    }
  });

  it('a view inherits the trust its bundle was opened with', async () => {
    const parent = path.join(dir, 'with-view');
    const b = await create(parent).attach(secret, { saveAs: 'ref' });
    await b.createView('notes', await b.select('SELECT note FROM bundle'));
    await b.commit('a view over an outside source');
    await b.close();
    await asAnotherUser(async () => {
      const refused = await open(parent);
      const view = await refused.view('notes');
      await expectError(() => view.toObjects(), 'UNTRUSTED', /private\.csv/);
      await Promise.all([view.close(), refused.close()]);
      const trusted = await open(parent, { trust: [secret] });
      const trustedView = await trusted.view('notes');
      assert.deepEqual((await trustedView.toObjects()).map((r) => r.note), ['top secret']);
      await Promise.all([trustedView.close(), trusted.close()]);
    });
  });

  it('rejects a malformed trust option', async () => {
    await expectError(() => open(inside, { trust: 'yes' as never }), 'INVALID_ARGUMENT', /trust must be/);
    await expectError(() => open(inside, { trust: [''] as never }), 'INVALID_ARGUMENT', /trust must be/);
  });
});

describe('trust on the command line and in the servers', () => {
  const stranger = async () => ({ BUNDLEBASE_TRUST_FILE: path.join(await tempDir(), 'trusted-sources') });

  it('bundlebase refuses an untrusted source, and reads it with --trust-path or --trust', async () => {
    const env = await stranger();
    const refused = await cli(env, 'count', outside);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /private\.csv.*--trust/);
    for (const flags of [['--trust-path', secret], ['--trust']]) {
      const ok = await cli(env, 'count', outside, ...flags);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout.trim(), '1');
    }
  });

  it('serve refuses an untrusted bundle at start, and serves it when trusted', async () => {
    await asAnotherUser(async () => {
      await expectError(() => serve(outside, { pgPort: 0 }), 'UNTRUSTED', /private\.csv/);
      const servers = await serve(outside, { pgPort: 0, trust: [secret] });
      try {
        const { default: pg } = await import('pg');
        const client = new pg.Client({ host: '127.0.0.1', port: servers.pgPort, user: 'u' });
        await client.connect();
        const { rows } = await client.query('SELECT note FROM bundle');
        assert.deepEqual(rows, [{ note: 'top secret' }]);
        // the client still cannot read the file itself, trusted or not
        await assert.rejects(client.query(`SELECT * FROM read_csv('${secret}')`), (e: { code?: string; message: string }) => e.code === '42501' && /read_csv/.test(e.message));
        await client.end();
      } finally {
        await servers.close();
      }
    });
  });
});

describe('exports under the restricted database', () => {
  it('writes a new file and replaces an existing one', async () => {
    const b = await open(inside);
    const target = path.join(await tempDir(), 'out.csv');
    assert.deepEqual(await b.export(target), { rows: 5 });
    await writeFile(target, 'old');
    assert.deepEqual(await b.export(target), { rows: 5 });
    const { readFile } = await import('node:fs/promises');
    assert.match(await readFile(target, 'utf8'), /^id\n0\n/);
    await b.close();
  });
});
