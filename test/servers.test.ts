import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { privateTempDir } from '../src/engine/engine.js';
import { create, serve, type Servers } from '../src/index.js';
import { startFlightReader, tempDir, within, writeFixture } from './helpers.js';

const execFileAsync = promisify(execFile);
const hasPsql = spawnSync('sh', ['-c', 'command -v psql'], { stdio: 'ignore' }).status === 0;
const PASSWORD = 'open sesame';

let dir: string;
let bundleDir: string;
let servers: Servers;

before(async () => {
  dir = await tempDir();
  const people = await writeFixture(path.join(dir, 'people.parquet'), `
    SELECT i::INTEGER AS id, 'person ' || i AS name, (i % 90)::INTEGER AS age, i * 1.5 AS score,
           (i * 0.01)::DECIMAL(12, 2) AS balance, i % 2 = 0 AS even,
           DATE '2024-01-01' + i::INTEGER AS day, TIMESTAMP '2024-01-01 00:00:00.123456' + INTERVAL (i) MINUTE AS seen,
           CASE WHEN i % 10 = 0 THEN NULL ELSE 'x' || i END AS maybe, i::BIGINT * 1000000000 AS big
    FROM range(200000) t(i)`);
  bundleDir = path.join(dir, 'served');
  const b = await create(bundleDir).attach(people);
  const adults = await b.select('SELECT id, name FROM bundle WHERE age >= 18');
  await b.createView('adults', adults);
  await b.commit('to serve');
  await b.close();
  servers = await serve(bundleDir, { pgPort: 0, password: PASSWORD });
});

after(async () => {
  await servers?.close();
});

function client(password = PASSWORD): pg.Client {
  return new pg.Client({ host: '127.0.0.1', port: servers.pgPort, user: 'anyone', password, database: 'bundle' });
}

async function withClient<T>(body: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = client();
  await c.connect();
  try {
    return await body(c);
  } finally {
    await c.end();
  }
}

describe('PostgreSQL wire server (node-postgres)', () => {
  it('answers SELECT over bundle with correct types and text encodings', async () => {
    const result = await withClient((c) => c.query('SELECT * FROM bundle WHERE id IN (3, 10) ORDER BY id'));
    assert.deepEqual(result.fields.map((f) => [f.name, f.dataTypeID]), [
      ['id', 23], ['name', 25], ['age', 23], ['score', 1700], ['balance', 1700], ['even', 16], ['day', 1082], ['seen', 1114], ['maybe', 25], ['big', 20],
    ]);
    const [three, ten] = result.rows;
    assert.deepEqual(three, {
      id: 3, name: 'person 3', age: 3, score: '4.5', balance: '0.03', even: false,
      day: new Date('2024-01-04T00:00:00Z'), seen: new Date('2024-01-01T00:03:00.123Z'), maybe: 'x3', big: '3000000000',
    });
    assert.equal(ten.maybe, null);
    assert.equal(ten.even, true);
  });

  it('binds parameters in the extended protocol, typed from where they are used', async () => {
    const result = await withClient((c) => c.query('SELECT id, name FROM bundle WHERE age = $1 AND name LIKE $2 AND even = $3 ORDER BY id LIMIT 3', [33, 'person 1%', false]));
    assert.deepEqual(result.rows, [{ id: 123, name: 'person 123' }, { id: 1023, name: 'person 1023' }, { id: 1113, name: 'person 1113' }]);
  });

  it('serves views by name', async () => {
    const result = await withClient((c) => c.query('SELECT count(*) AS n FROM adults'));
    assert.ok(Number(result.rows[0].n) > 150000);
    const direct = await withClient((c) => c.query('SELECT count(*) AS n FROM bundle WHERE age >= 18'));
    assert.equal(result.rows[0].n, direct.rows[0].n);
  });

  it('streams a large result', async () => {
    const result = await withClient((c) => c.query('SELECT id, name FROM bundle'));
    assert.equal(result.rowCount, 200000);
    assert.equal(result.rows.at(-1).name, 'person 199999');
  });

  it('reports errors with SQLSTATE and stays usable', async () => {
    await withClient(async (c) => {
      await assert.rejects(c.query('SELEKT 1'), (e: { code: string }) => e.code === '42601');
      await assert.rejects(c.query('SELECT nope FROM bundle'), (e: { code: string; message: string }) => e.code === '42703' && /nope/.test(e.message));
      await assert.rejects(c.query('SELECT * FROM nowhere'), (e: { code: string }) => e.code === '42P01');
      assert.equal((await c.query('SELECT 1 AS one')).rows[0].one, 1);
    });
  });

  it('refuses writes, settings and file access', async () => {
    await withClient(async (c) => {
      for (const sql of ["COPY (SELECT 1) TO '/tmp/x.csv'", 'CREATE TABLE t (i INTEGER)', 'INSERT INTO bundle VALUES (1)', "ATTACH '/tmp/evil.db'", 'INSTALL httpfs', 'SET threads = 1', 'PRAGMA version']) {
        await assert.rejects(c.query(sql), (e: { code: string; message: string }) => e.code === '25006' && /refused/.test(e.message), sql);
      }
      for (const sql of ["SELECT * FROM read_csv('/etc/passwd')", "SELECT * FROM read_text('/etc/hostname')", `SELECT * FROM read_parquet('${path.join(dir, 'other.parquet')}')`]) {
        await assert.rejects(c.query(sql), (e: { code: string }) => e.code === '42501', sql);
      }
    });
  });

  it('rejects a wrong password', async () => {
    const c = client('wrong');
    await assert.rejects(c.connect(), (e: { code: string }) => e.code === '28P01');
  });

  it('frees the query when a client disconnects mid-stream', async () => {
    const c = client();
    c.on('error', () => undefined); // we cut the connection on purpose
    await c.connect();
    const socket = (c as unknown as { connection: { stream: import('node:net').Socket } }).connection.stream;
    // cut the connection once rows are flowing (1 MB of them), not after a guessed delay
    const streaming = new Promise<void>((resolve) => {
      const start = socket.bytesRead;
      const onData = () => {
        if (socket.bytesRead - start < 1 << 20) return;
        socket.off('data', onData);
        resolve();
      };
      socket.on('data', onData);
    });
    // 10 M rows, without table functions (the server refuses range())
    const pending = c.query('SELECT a.id FROM bundle a, (SELECT id FROM bundle LIMIT 50) r').catch((e: Error) => e);
    await within(streaming, 30_000, 'the first MB of a 10 M-row result');
    socket.destroy();
    assert.ok(await pending instanceof Error, 'the cut query fails on the client');
    // the server still answers others (a generous bound: only a server stuck on the dead client trips it)
    const { rows } = await within(withClient((d) => d.query('SELECT count(*) AS n FROM bundle')), 20_000, 'a query after a client disconnected mid-stream');
    assert.equal(rows[0].n, '200000');
  });
});

describe('PostgreSQL wire server (psql)', { skip: hasPsql ? false : 'psql is not installed' }, () => {
  const psql = (sql: string, password = PASSWORD) =>
    execFileAsync('psql', ['-h', '127.0.0.1', '-p', String(servers.pgPort), '-U', 'someone', '-d', 'bundle', '-X', '-A', '-t', '-c', sql], { env: { ...process.env, PGPASSWORD: password } })
      .then((r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }), (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }));

  it('runs queries', async () => {
    const r = await psql('SELECT id, name, balance, day FROM bundle WHERE id < 3 ORDER BY id');
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '0|person 0|0.00|2024-01-01\n1|person 1|0.01|2024-01-02\n2|person 2|0.02|2024-01-03\n');
  });

  it('shows errors and refuses bad passwords', async () => {
    const bad = await psql('SELECT nope FROM bundle');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /ERROR:.*nope/);
    const denied = await psql('SELECT 1', 'wrong');
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /password authentication failed/);
  });
});

describe('server temporary files', () => {
  it('a query that spills writes into a private directory, removed when the server stops', async () => {
    const spills = () => readdirSync(privateTempDir()).filter((name) => name.startsWith('spill-'));
    const before = spills();
    const small = await serve(bundleDir, { pgPort: 0, host: '127.0.0.1', limits: { memoryLimit: '48MB', threads: 1 } });
    try {
      const c = new pg.Client({ host: '127.0.0.1', port: small.pgPort, user: 'anyone', database: 'bundle' });
      await c.connect();
      // sorting 800,000 rows of text does not fit in 48 MB: DuckDB spills
      const sorted = 'SELECT count(*) AS n FROM (SELECT md5(a.name || b.name) AS m FROM bundle a, (SELECT name FROM bundle LIMIT 4) b ORDER BY m)';
      assert.equal(Number((await c.query(sorted)).rows[0].n), 800_000);
      await c.end();
      assert.equal(spills().filter((name) => !before.includes(name)).length, 1, 'the server spilled into a directory of its own');
    } finally {
      await small.close();
    }
    assert.deepEqual(spills(), before);
  });
});

describe('bundlebase serve', () => {
  it('starts from the command line and answers psql-compatible clients', async () => {
    const child = spawn(process.execPath, [path.resolve('dist/cli/main.js'), 'serve', bundleDir, '--pg-port', '0', '--password', 'cli-pass'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        const m = /postgresql:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.on('exit', (code) => reject(new Error(`serve exited ${code}`)));
    });
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'x', password: 'cli-pass' });
    await c.connect();
    assert.equal((await c.query('SELECT max(id) AS m FROM bundle')).rows[0].m, 199999);
    await c.end();
    child.kill('SIGTERM');
    assert.equal(await new Promise((resolve) => child.on('exit', resolve)), 0);
  });
});

describe('Arrow Flight SQL server', () => {
  let flight: Servers;
  before(async () => {
    flight = await serve(bundleDir, { flightPort: 0, password: PASSWORD });
  });
  after(async () => {
    await flight?.close();
  });

  async function flightClient(password = PASSWORD) {
    const { createFlightSqlClient } = await import('@lakehouse-rs/flight-sql-client');
    return createFlightSqlClient({ host: '127.0.0.1', port: flight.flightPort, tls: false, headers: [], username: 'anyone', password });
  }

  it('runs a query and streams Arrow batches with the bundle\'s types', async () => {
    const { tableFromIPC } = await import('apache-arrow');
    const client = await flightClient();
    const table = tableFromIPC(await client.query('SELECT id, name, age, balance, even, day, seen, maybe FROM bundle WHERE id IN (3, 10) ORDER BY id'));
    assert.deepEqual(table.schema.fields.map((f) => `${f.name}:${f.type}`), [
      'id:Int32', 'name:Utf8', 'age:Int32', 'balance:Decimal[12e+2]', 'even:Bool', 'day:Date32<DAY>', 'seen:Timestamp<MICROSECOND>', 'maybe:Utf8',
    ]);
    const rows = table.toArray().map((r) => r.toJSON());
    assert.equal(rows.length, 2);
    assert.deepEqual({ id: rows[0].id, name: rows[0].name, even: rows[0].even, maybe: rows[1].maybe }, { id: 3, name: 'person 3', even: false, maybe: null });
    const all = tableFromIPC(await client.query('SELECT id FROM bundle'));
    assert.equal(all.numRows, 200000);
  });

  it('lists the bundle and its views with CommandGetTables', async () => {
    const { tableFromIPC } = await import('apache-arrow');
    const client = await flightClient();
    const tables = tableFromIPC(await client.getTables({ includeSchema: false, dbSchemaFilterPattern: 'public' }));
    assert.deepEqual(tables.toArray().map((r) => [r.table_name, r.table_type]), [['bundle', 'TABLE'], ['adults', 'VIEW']]);
  });

  /** GetFlightInfo for `sql` over a raw gRPC client: the status the server answered with. */
  async function flightInfoStatus(sql: string): Promise<{ code: number; details: string }> {
    const grpc = await import('@grpc/grpc-js');
    const { basicAuth, flightService, statementCommand } = await import('./support/flight-raw.mjs');
    const raw = flightService(flight.flightPort) as never as Record<string, (...args: unknown[]) => void> & import('@grpc/grpc-js').Client;
    const cmd = statementCommand(sql);
    const metadata = basicAuth(PASSWORD);
    try {
      return await new Promise((resolve) => raw.GetFlightInfo!({ type: 'CMD', cmd: Buffer.from(cmd) }, metadata, (err: { code: number; details: string } | null) => resolve(err ?? { code: grpc.status.OK, details: '' })));
    } finally {
      raw.close();
    }
  }

  it('reports SQL errors and refuses writes and file access', async () => {
    const { status } = await import('@grpc/grpc-js');
    const client = await flightClient();
    const cases: [sql: string, code: number, details: RegExp][] = [
      ['SELECT nope FROM bundle', status.INVALID_ARGUMENT, /nope/],
      ["COPY (SELECT 1) TO '/tmp/x.csv'", status.PERMISSION_DENIED, /refused/],
      ["SELECT * FROM read_csv('/etc/passwd')", status.PERMISSION_DENIED, /'read_csv' is not allowed/],
    ];
    for (const [sql, code, details] of cases) {
      // this client reports every failure as "failed to prepare statement", without the server's status
      await assert.rejects(client.query(sql), (e: Error) => /failed to prepare statement/.test(e.message), sql);
      const answered = await flightInfoStatus(sql);
      assert.equal(answered.code, code, `${sql}: ${answered.details}`);
      assert.match(answered.details, details, sql);
    }
    const { tableFromIPC } = await import('apache-arrow');
    assert.equal(tableFromIPC(await client.query('SELECT 1 AS one')).numRows, 1, 'still usable');
  });

  it('a client that goes away mid-stream does not hold the server up', async () => {
    // killed once its first batch has arrived: mid-stream for sure, with 4 M rows still to come
    const child = await startFlightReader(flight.flightPort!, PASSWORD, 'SELECT a.* FROM bundle a, (SELECT id FROM bundle LIMIT 20) r');
    child.kill('SIGKILL');
    const { tableFromIPC } = await import('apache-arrow');
    const client = await flightClient();
    const ipc = await within(client.query('SELECT count(*) AS n FROM bundle'), 20_000, 'a query after a Flight client was killed mid-stream');
    assert.equal(tableFromIPC(ipc).getChild('n')!.get(0), 200000n);
  });

  it('refuses a wrong password', async () => {
    // this client panics when its handshake is refused (and then hangs), so it runs in a process
    // of its own, stopped after a while; what it printed tells whether the server refused it
    const script = `
      const { createFlightSqlClient } = await import('@lakehouse-rs/flight-sql-client');
      const c = await createFlightSqlClient({ host: '127.0.0.1', port: ${flight.flightPort}, tls: false, headers: [], username: 'x', password: 'wrong' });
      await c.query('SELECT 1');
      console.log('connected');`;
    // stop it once it has printed the refusal (or exited), not after a fixed time it may need to start up
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const refusedOrExited = new Promise<void>((resolve) => {
      const onData = (d: Buffer) => {
        out += d.toString();
        if (/Unauthenticated|Authentication/i.test(out)) resolve();
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', () => resolve());
    });
    try {
      await within(refusedOrExited, 30_000, () => `the Flight client's refusal (printed so far: ${out})`);
    } finally {
      child.kill('SIGKILL');
    }
    assert.doesNotMatch(out, /connected/);
    assert.match(out, /Unauthenticated|Authentication/i);
  });
});
