import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import { create, serve, type Servers } from '../src/index.js';
import { tempDir, within, writeFixture } from './helpers.js';
import { basicAuth, flightService } from './support/flight-raw.mjs';

const run = promisify(execFile);
const PASSWORD = 'tls-secret';

let dir: string;
let bundle: string;
let cert: string;
let key: string;
let servers: Servers;

before(async () => {
  dir = await tempDir();
  cert = path.join(dir, 'cert.pem');
  key = path.join(dir, 'key.pem');
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']);
  await writeFixture(path.join(dir, 'n.parquet'), 'SELECT i::INTEGER AS i FROM range(1000) t(i)');
  bundle = path.join(dir, 'b');
  const b = await create(bundle).attach(path.join(dir, 'n.parquet'));
  await b.commit('numbers');
  await b.close();
  servers = await serve(bundle, { pgPort: 0, flightPort: 0, password: PASSWORD, tls: { cert, key } });
});

after(async () => servers?.close());

describe('TLS on the PostgreSQL server', { timeout: 60_000 }, () => {
  it('node-postgres connects over verified TLS and queries', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: servers.pgPort, user: 'u', password: PASSWORD, ssl: { ca: await readFile(cert, 'utf8') } });
    await client.connect();
    try {
      assert.deepEqual((await client.query('SELECT count(*)::INTEGER AS n FROM bundle')).rows, [{ n: 1000 }]);
      const stream = (client as unknown as { connection: { stream: { encrypted?: boolean } } }).connection.stream;
      assert.equal(stream.encrypted, true, 'the connection is a TLS socket');
    } finally {
      await client.end();
    }
  });

  it('psql connects with sslmode=require', async () => {
    const { stdout } = await run('psql', [`host=127.0.0.1 port=${servers.pgPort} user=u sslmode=require`, '-Atc', 'SELECT max(i) FROM bundle'], {
      env: { ...process.env, PGPASSWORD: PASSWORD },
    });
    assert.equal(stdout.trim(), '999');
  });

  it('a client without TLS is refused before it can send a password', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: servers.pgPort, user: 'u', password: PASSWORD, ssl: false });
    await assert.rejects(client.connect(), /requires TLS/);
  });
});

describe('TLS on the Flight SQL server', { timeout: 60_000 }, () => {
  /** One Handshake with basic auth; resolves to the bearer token the server returns. */
  function handshake(credentials: grpc.ChannelCredentials): Promise<string> {
    const client = flightService(servers.flightPort!, credentials, { 'grpc.ssl_target_name_override': 'localhost' }) as grpc.Client;
    const metadata = basicAuth(PASSWORD, 'u');
    return new Promise<string>((resolve, reject) => {
      const call = (client as unknown as { Handshake(m: grpc.Metadata, o: grpc.CallOptions): grpc.ClientDuplexStream<unknown, unknown> })
        .Handshake(metadata, { deadline: Date.now() + 20_000 }); // generous: a slow machine must not turn a refusal into DEADLINE_EXCEEDED
      call.on('metadata', (m: grpc.Metadata) => {
        const token = m.get('authorization')[0];
        if (token) resolve(String(token));
      });
      call.on('error', reject);
      call.on('end', () => client.close());
      call.write({ protocol_version: 0, payload: Buffer.alloc(0) });
      call.end();
    });
  }

  it('a gRPC client that trusts the certificate gets a bearer token over TLS', async () => {
    const token = await handshake(grpc.credentials.createSsl(await readFile(cert)));
    assert.match(token, /^Bearer \S+/);
  });

  it('a plaintext gRPC client cannot talk to it', async () => {
    await assert.rejects(handshake(grpc.credentials.createInsecure()), (err: { code?: number }) => err.code === grpc.status.UNAVAILABLE);
  });
});

describe('PostgreSQL messages after authentication', { timeout: 60_000 }, () => {
  let plain: Servers;
  before(async () => {
    plain = await serve(bundle, { pgPort: 0, limits: { maxMessageBytes: 1 << 20, idleTimeoutMs: 1500 } });
  });
  after(async () => plain?.close());

  const connect = async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: plain.pgPort, user: 'u' });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  const socketOf = (client: pg.Client) => (client as unknown as { connection: { stream: import('node:net').Socket } }).connection.stream;
  const closed = (socket: import('node:net').Socket, ms: number) => new Promise<boolean>((resolve) => {
    if (socket.destroyed) return resolve(true);
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });

  it('a message declaring more than maxMessageBytes closes the connection without buffering it', async () => {
    const client = await connect();
    const socket = socketOf(client);
    const before = process.memoryUsage().rss;
    const header = Buffer.alloc(5);
    header.write('Q');
    header.writeUInt32BE(0x7ffffff0, 1);
    socket.write(Buffer.concat([header, Buffer.alloc(256 * 1024, 0x41)]));
    assert.ok(await closed(socket, 5000), 'the server closed the connection');
    assert.ok(process.memoryUsage().rss - before < 200 * 2 ** 20);
    const next = await connect();
    assert.deepEqual((await next.query('SELECT 1::INTEGER AS one')).rows, [{ one: 1 }]);
    await next.end();
  });

  it('a query sent one byte at a time is framed and answered', async () => {
    const client = await connect();
    const socket = socketOf(client);
    const sql = 'SELECT count(*)::INTEGER AS n FROM bundle WHERE i < 10\0';
    const message = Buffer.alloc(5 + Buffer.byteLength(sql));
    message.write('Q');
    message.writeUInt32BE(message.length - 1, 1);
    message.write(sql, 5);
    let received = '';
    // ReadyForQuery ('Z', length 5, status) ends the server's answer: wait for it, not a fixed time
    const answered = new Promise<void>((resolve) => socket.on('data', (d: Buffer) => {
      received += d.toString('latin1');
      if (/SELECT 1\0/.test(received) && /Z\0\0\0\x05[IT]$/.test(received)) resolve();
    }));
    for (const byte of message) {
      socket.write(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await within(answered, 10_000, () => `the answer to a query sent byte by byte (got ${JSON.stringify(received)})`);
    assert.match(received, /SELECT 1\0/, 'CommandComplete for the one result row');
    socket.destroy();
  });

  it('an idle connection is closed after idleTimeoutMs', async () => {
    const client = await connect();
    assert.ok(await closed(socketOf(client), 5000), 'closed by the server');
  });
});
