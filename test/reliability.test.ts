import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { create, open, serve, type Servers } from '../src/index.js';
import { nativeAvailable } from '../src/engine/arrow/native.js';
import { eventually, expectError, tempDir, within, writeFixture } from './helpers.js';

const execFileAsync = promisify(execFile);
const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/index.ts');
const NATIVE_SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/engine/arrow/native.ts');

/** Rows 0..n-1; reading `explodes` fails with error('boom …') at row `failAt`, mid-stream. */
const EXPLODES = (failAt: number) =>
  `SELECT i, CASE WHEN i < ${failAt} THEN repeat('y', 100) ELSE error('boom at ' || i) END AS v FROM bundle`;

let dir: string;
let bundleDir: string;

before(async () => {
  dir = await tempDir();
  const numbers = await writeFixture(path.join(dir, 'numbers.parquet'), 'SELECT i FROM range(400000) t(i)');
  bundleDir = path.join(dir, 'explosive');
  const b = await create(bundleDir).attach(numbers);
  await b.createView('explodes', await b.select(EXPLODES(300000)));
  await b.commit('a view that fails late');
  await b.close();
});

/**
 * Runs `body` (the inside of an async function with `view`, the opened view) in its own Node
 * process: an unhandled rejection there shows as an exit code instead of killing the test runner.
 */
async function inChild(body: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string }> {
  const script = path.join(dir, `child-${Math.random().toString(36).slice(2)}.mts`);
  await writeFile(script, `
    import { setTimeout } from 'node:timers/promises';
    import { open } from ${JSON.stringify(SRC)};
    import { nativeReadCount } from ${JSON.stringify(NATIVE_SRC)};
    const bundle = await open(${JSON.stringify(bundleDir)});
    const view = await bundle.view('explodes');
    try { ${body} } catch (e) { console.log('CAUGHT', e.name, e.code, e.message.split('\\n')[0]); }
    await view.close(); await bundle.close();
    console.log('NATIVE_READS', nativeReadCount());
    console.log('ALIVE');
  `);
  try {
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: `${e.stdout}\n${e.stderr}` };
  }
}

function assertCaughtRealError(result: { code: number; out: string }, conversion: string) {
  assert.equal(result.code, 0, `the process died: ${result.out}`);
  const nativeReads = Number(/NATIVE_READS (\d+)/.exec(result.out)?.[1]);
  assert.equal(nativeReads > 0, conversion === 'native' && nativeAvailable() && process.env.BUNDLEBASE_CONVERSION !== 'js', `read through the addon ${nativeReads} time(s) (${conversion})`);
  assert.match(result.out, /CAUGHT BundlebaseError SQL_ERROR .*boom at \d+/, result.out);
  assert.doesNotMatch(result.out, /closed pending query result/);
  assert.match(result.out, /ALIVE/);
}

describe('an error mid-stream', { timeout: 60_000 }, () => {
  for (const conversion of ['native', 'js']) {
    const env = conversion === 'js' ? { BUNDLEBASE_CONVERSION: 'js' } : {};
    it(`reaches a slow async consumer as the real error, and the process lives on (${conversion})`, async () => {
      assertCaughtRealError(await inChild(`for await (const b of view.stream()) await setTimeout(2);`, env), conversion);
    });
    it(`reaches a synchronous consumer as the real error (${conversion})`, async () => {
      assertCaughtRealError(await inChild(`let n = 0; for await (const b of view.stream()) n += b.numRows;`, env), conversion);
    });
    it(`reaches toObjects() as the real error (${conversion})`, async () => {
      assertCaughtRealError(await inChild(`await view.toObjects();`, env), conversion);
    });
  }

  it('in the library process: caught, and the bundle still reads afterwards', async () => {
    const b = await create().attach(path.join(dir, 'numbers.parquet'));
    const exploding = await b.select(EXPLODES(300000));
    await assert.rejects(async () => {
      for await (const batch of exploding.stream()) {
        void batch;
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }, (err: { code?: string; message: string }) => err.code === 'SQL_ERROR' && /boom at \d+/.test(err.message));
    assert.equal(await b.numRows(), 400000);
    await exploding.close();
    await b.close();
  });
});

describe('an error mid-stream over the PostgreSQL wire', { timeout: 60_000 }, () => {
  let servers: Servers;
  before(async () => {
    servers = await serve(bundleDir, { pgPort: 0 });
  });
  after(async () => {
    await servers?.close();
  });

  it('a slow reader gets an ErrorResponse with the real error; the server answers the next client', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: servers.pgPort, user: 'x', database: 'bundle' });
    await client.connect();
    try {
      const query = client.query('SELECT * FROM explodes');
      // stop reading the socket for a while: the server's writes back up while DuckDB fails
      const socket = (client as unknown as { connection: { stream: NodeJS.ReadableStream } }).connection.stream;
      socket.pause();
      setTimeout(() => socket.resume(), 1500);
      await assert.rejects(query, (err: { message: string }) => /boom at \d+/.test(err.message));
    } finally {
      await client.end();
    }
    const next = new pg.Client({ host: '127.0.0.1', port: servers.pgPort, user: 'x', database: 'bundle' });
    await next.connect();
    try {
      const { rows } = await next.query('SELECT count(*)::INTEGER AS n FROM bundle');
      assert.deepEqual(rows, [{ n: 400000 }]);
    } finally {
      await next.end();
    }
  });
});

describe('values and names that used to be accepted wrongly', { timeout: 60_000 }, () => {
  it('a 64-bit parameter survives the manifest exactly', async () => {
    const file = await writeFixture(path.join(dir, 'big.parquet'), 'SELECT 9007199254740992::BIGINT + i AS id FROM range(3) t(i)');
    const bundle = path.join(dir, 'bigint');
    const b = await create(bundle).attach(file).filter('id = $1', [9007199254740993n]);
    assert.equal((await b.toObjects()).length, 1);
    await b.commit('exact');
    await b.close();
    const r = await open(bundle);
    assert.deepEqual(await r.toObjects(), [{ id: 9007199254740993n }]);
    await r.close();
  });

  it('renaming to a name that differs from another column only in case is refused', async () => {
    const file = await writeFixture(path.join(dir, 'amounts.parquet'), 'SELECT i AS id, i * 2 AS amount FROM range(3) t(i)');
    const b = await create().attach(file);
    await expectError(() => b.renameColumn('id', 'AMOUNT'), 'INVALID_ARGUMENT', /'id' to 'AMOUNT'.*'amount' already exists/);
    assert.deepEqual((await b.schema()).fields.map((f) => f.name), ['id', 'amount']);
    await b.renameColumn('id', 'ID');
    assert.deepEqual((await b.schema()).fields.map((f) => f.name), ['ID', 'amount']);
    await b.close();
  });

  it('an untyped parameter takes the type of its value', async () => {
    const b = await create().attach(path.join(dir, 'numbers.parquet'));
    const s = await b.select('SELECT $1 AS n, $2 AS t FROM bundle LIMIT 1', [5, 'five']);
    assert.deepEqual(await s.toObjects(), [{ n: 5, t: 'five' }]);
    await s.close();
    await b.close();
  });

  it('a manifest with a mistyped field is an IO_ERROR naming the file and the field', async () => {
    const bundle = path.join(dir, 'mistyped');
    const b = await create(bundle).attach(path.join(dir, 'numbers.parquet')).filter('i > $1', [5]);
    await b.commit('to be damaged');
    await b.close();
    const meta = path.join(bundle, '_bundlebase');
    const file = (await readdir(meta)).find((f) => f.startsWith('00001'))!;
    const text = await readFile(path.join(meta, file), 'utf8');
    await writeFile(path.join(meta, file), text.replace(/parameters:\n\s+- 5/, 'parameters:\n          a: 1'));
    await expectError(() => open(bundle), 'IO_ERROR', new RegExp(`${file}.*'parameters'`));
  });

  it('every field of an attachBlock or indexBlocks entry is checked when decoding', async () => {
    const bundle = path.join(dir, 'mistyped-attach');
    const b = await create(bundle).attach(path.join(dir, 'numbers.parquet'));
    await b.commit('to be damaged');
    await b.close();
    const meta = path.join(bundle, '_bundlebase');
    const file = (await readdir(meta)).find((f) => f.startsWith('00001'))!;
    const text = await readFile(path.join(meta, file), 'utf8');
    for (const [damage, fieldName] of [[/numRows: \d+/, 'numRows'], [/packId: \S+/, 'packId']] as const) {
      await writeFile(path.join(meta, file), text.replace(damage, `${fieldName}: [1, 2]`));
      await expectError(() => open(bundle), 'IO_ERROR', new RegExp(`${file}.*'${fieldName}'`));
    }
  });

  it("the next commit removes what killed writers left: old temp files and claims already published", async () => {
    const bundle = path.join(dir, 'leftovers');
    const b = await create(bundle).attach(path.join(dir, 'numbers.parquet'));
    await b.commit('first');
    const meta = path.join(bundle, '_bundlebase');
    const hourAgo = new Date(Date.now() - 3600_000);
    await writeFile(path.join(meta, '.tmp-crashed'), 'half a commit');
    await utimes(path.join(meta, '.tmp-crashed'), hourAgo, hourAgo);
    await writeFile(path.join(meta, '.tmp-live-writer'), 'being written right now');
    await writeFile(path.join(meta, '.claim-00001'), 'claim of a writer that died after publishing 00001');
    await b.setName('second');
    await b.commit('second');
    await b.close();
    const files = await readdir(meta);
    assert.ok(!files.includes('.tmp-crashed'), 'old temp file removed');
    assert.ok(!files.includes('.claim-00001'), 'stale claim removed');
    assert.ok(files.includes('.tmp-live-writer'), "a fresh temp file may be a live writer's: kept");
    assert.equal((await open(bundle)).history().length, 2);
  });
});

describe('network clients reach only bundle and its views', { timeout: 60_000 }, () => {
  let servers: Servers;
  let source: string;
  before(async () => {
    source = await writeFixture(path.join(dir, 'people.csv'), "SELECT i AS id, 'ssn-' || i AS ssn FROM range(10) t(i)");
    const bundle = path.join(dir, 'guarded');
    const b = await create(bundle).attach(source).removeColumn('ssn').filter('id <> $1', [7]);
    await b.commit('hide ssn and row 7');
    await b.close();
    servers = await serve(bundle, { pgPort: 0 });
  });
  after(async () => {
    await servers?.close();
  });

  const refusals: [sql: () => string, sqlState: string][] = [
    [() => `SELECT * FROM read_csv('${source}')`, '42501'],
    [() => `SELECT * FROM read_csv('${source}', store_rejects = true)`, '42501'],
    [() => `SELECT * FROM '${source}'`, '42P01'],
    [() => "SELECT current_setting('allowed_paths')", '42501'],
    [() => 'SELECT * FROM duckdb_settings()', '42501'],
    [() => 'SELECT * FROM pragma_version()', '42501'],
    [() => 'SELECT * FROM bundle WHERE id IN (SELECT i FROM range(3) t(i))', '42501'],
    [() => "SELECT $$x$$ || (SELECT count(*) FROM glob('/*'))", '42501'],
    [() => `SELECT * FROM bundle, read_text('/etc/hostname')`, '42501'],
    [() => 'SELECT * FROM main.bundle', '42P01'],
    [() => '/*x*/SET threads = 1', '25006'],
    [() => "-- c\nCOPY (SELECT 1) TO '/tmp/bundlebase-x.csv'", '25006'],
    [() => "ATTACH '/tmp/bundlebase-evil.db'", '25006'],
    [() => 'PRAGMA version', '25006'],
  ];
  for (const [sql, sqlState] of refusals) {
    it(`refuses ${sql().replace(dir, '…').replaceAll('\n', ' ')}`, async () => {
      const client = new pg.Client({ host: '127.0.0.1', port: servers.pgPort, user: 'x', database: 'bundle' });
      await client.connect();
      try {
        await assert.rejects(client.query(sql()), (e: { code: string }) => e.code === sqlState);
        // the connection is still usable, and the hidden column and row stay hidden
        const { rows } = await client.query('SELECT * FROM bundle ORDER BY id');
        assert.deepEqual(rows.map((r: { id: number }) => Object.keys(r).join()), Array(9).fill('id'));
        assert.ok(!rows.some((r: { id: number }) => Number(r.id) === 7));
      } finally {
        await client.end();
      }
    });
  }

  it("a client's $1 can never read the bundle's own parameter values", async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: servers.pgPort, user: 'x', database: 'bundle' });
    await client.connect();
    try {
      const leak = "SELECT E'\\'' AS q, CAST($1 AS VARCHAR) AS leaked --'";
      await client.query(leak).then(
        (r) => assert.notEqual(r.rows[0]?.leaked, '7'),
        (e: { code: string }) => assert.ok(e.code !== undefined),
      );
      const { rows } = await client.query('SELECT CAST($1 AS VARCHAR) AS mine', ['client value']);
      assert.deepEqual(rows, [{ mine: 'client value' }]);
    } finally {
      await client.end();
    }
  });
});

describe('PostgreSQL server against hostile connections', { timeout: 60_000 }, () => {
  let servers: Servers;
  before(async () => {
    servers = await serve(bundleDir, { pgPort: 0, limits: { maxConnections: 3, authTimeoutMs: 1500 } });
  });
  after(async () => {
    await servers?.close();
  });

  /** Opens a raw socket, sends `bytes`, and resolves once the server closes it (or after `ms`). */
  async function rawSocket(bytes: Buffer | undefined, ms = 5000): Promise<{ closed: boolean; received: Buffer; socket: import('node:net').Socket }> {
    const net = await import('node:net');
    const socket = net.connect(servers.pgPort!, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('connect', resolve));
    if (bytes) socket.write(bytes);
    const closed = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    return { closed, received: Buffer.concat(chunks), socket };
  }

  async function answers(): Promise<void> {
    const client = new pg.Client({ host: '127.0.0.1', port: servers.pgPort, user: 'x', database: 'bundle' });
    await client.connect();
    try {
      assert.deepEqual((await client.query('SELECT 1::INTEGER AS one')).rows, [{ one: 1 }]);
    } finally {
      await client.end();
    }
  }

  it('a startup packet declaring 2 GB is refused without allocating it', async () => {
    const before = process.memoryUsage().rss;
    const header = Buffer.alloc(8);
    header.writeInt32BE(0x7fffffff, 0);
    header.writeInt32BE(196608, 4);
    const { closed } = await rawSocket(Buffer.concat([header, Buffer.alloc(64 * 1024, 1)]));
    assert.ok(closed);
    assert.ok(process.memoryUsage().rss - before < 200 * 2 ** 20);
    await answers();
  });

  it('garbage bytes close the connection; the server answers the next client', async () => {
    const { closed } = await rawSocket(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    assert.ok(closed);
    await answers();
  });

  it('a connection that never authenticates is closed after the auth timeout', async () => {
    const { closed } = await rawSocket(undefined, 5000);
    assert.ok(closed, 'closed by the server');
  });

  it('connections beyond the limit are refused with 53300, and served again once others close', async () => {
    const net = await import('node:net');
    const idle = await Promise.all([0, 1, 2].map(() => new Promise<import('node:net').Socket>((resolve) => {
      const s = net.connect(servers.pgPort!, '127.0.0.1', () => resolve(s));
      s.on('error', () => undefined);
    })));
    const refused = await rawSocket(undefined, 2000);
    assert.ok(refused.closed);
    assert.match(refused.received.toString('latin1'), /53300/);
    for (const s of idle) s.destroy();
    // the server frees the slots when it sees the sockets close: wait for that, not a fixed time
    await eventually(answers, { timeoutMs: 10_000, intervalMs: 100 });
  });
});

describe('bundlebase serve', { timeout: 60_000 }, () => {
  const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/cli/main.js');

  it('reads the password from a file, refuses others, and exits promptly on SIGTERM', async () => {
    const { spawn } = await import('node:child_process');
    const passwordFile = path.join(dir, 'password.txt');
    await writeFile(passwordFile, 'from a file\n');
    const child = spawn(process.execPath, [CLI, 'serve', bundleDir, '--pg-port', '0', '--password-file', passwordFile, '--statement-timeout', '30'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let text = '';
        child.stdout.on('data', (c: Buffer) => {
          text += c.toString();
          const m = /postgresql:\/\/[^:]+:(\d+)/.exec(text);
          if (m) resolve(Number(m[1]));
        });
        child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
      });
      const connect = async (password: string) => {
        const client = new pg.Client({ host: '127.0.0.1', port, user: 'x', password, database: 'bundle' });
        await client.connect();
        await client.end();
      };
      await connect('from a file');
      await assert.rejects(connect('wrong'), (e: { code: string }) => e.code === '28P01');
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      try {
        assert.equal(await within(exited, 20_000, 'serve exits on SIGTERM'), 0);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    }
  });

  it('refuses an empty password instead of serving without authentication', async () => {
    await expectError(() => serve(bundleDir, { pgPort: 0, password: '' }), 'INVALID_ARGUMENT', /empty password/);
  });
});
