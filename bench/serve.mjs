// npm run bench:serve [rowsPerClient] — server memory and correctness while many PostgreSQL clients
// stream at once. Serves the 10 M-row Parquet bench bundle when `npm run bench` made it, else a
// 2 M-row bundle of its own. Runs 1 client, then 50 concurrent clients plus a slow reader (its
// socket paused for seconds mid-stream) plus a client that disconnects mid-query, and prints the
// server's RSS: every complete stream must have the right rows and checksum, and RSS stay flat.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { create } from '../dist/index.js';
// after bundlebase: DuckDB's library loads with bundlebase's allocator settings (src/engine/allocator.ts)
import { DuckDBInstance } from '@duckdb/node-api';

const here = path.dirname(fileURLToPath(import.meta.url));
const rowsPerClient = Number(process.argv[2] ?? 200000);

async function benchBundle() {
  const big = path.join(here, 'data', 'bundle-10000000-parquet');
  if (existsSync(big)) return big;
  const own = path.join(here, 'data', 'serve-2000000');
  if (existsSync(own)) return own;
  const file = path.join(here, 'data', 'serve-2000000.parquet');
  mkdirSync(path.dirname(file), { recursive: true });
  const duck = await (await DuckDBInstance.create(':memory:')).connect();
  await duck.run(`COPY (SELECT i AS id, 'first' || (i % 1000) AS first_name, 'u' || i || '@example.com' AS email, (i % 10000) / 100.0 AS balance FROM range(2000000) t(i)) TO '${file}' (FORMAT parquet)`);
  duck.closeSync();
  const b = await create(own).attach(file);
  await b.commit('serve bench data');
  await b.close();
  return own;
}

const bundle = await benchBundle();
const server = spawn(process.execPath, [path.join(here, '..', 'dist', 'cli', 'main.js'), 'serve', bundle, '--pg-port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve) => {
  let out = '';
  server.stdout.on('data', (d) => {
    out += d;
    const m = /:(\d+)\/bundle/.exec(out);
    if (m) resolve(Number(m[1]));
  });
});
const status = () => readFileSync(`/proc/${server.pid}/status`, 'utf8');
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(status())[1]) * 1024;
const peak = () => Number(/VmHWM:\s+(\d+)/.exec(status())[1]) * 1024;
const SQL = `SELECT id, first_name, email, balance FROM bundle WHERE id < ${rowsPerClient}`;
const expectedSum = (BigInt(rowsPerClient) * BigInt(rowsPerClient - 1)) / 2n;

/** Streams SQL; `behave(rows, socket)` may pause or cut the connection. Returns rows and id sum. */
async function streamOnce(behave = () => undefined) {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'bench' });
  client.on('error', () => undefined);
  await client.connect();
  const socket = client.connection.stream;
  let rows = 0;
  let sum = 0n;
  const outcome = await new Promise((resolve) => {
    const query = client.query(new pg.Query(SQL));
    query.on('row', (row) => {
      rows++;
      sum += BigInt(row.id); // rows are checked, not kept
      behave(rows, socket);
    });
    query.on('end', () => resolve('complete'));
    query.on('error', () => resolve('failed'));
    socket.once('close', () => resolve(rows === rowsPerClient ? 'complete' : 'cut'));
  });
  await client.end().catch(() => undefined);
  return { outcome, rows, ok: outcome === 'complete' && rows === rowsPerClient && sum === expectedSum };
}

const slowReader = (rows, socket) => {
  if (rows !== 1000) return;
  socket.pause(); // the server must wait (backpressure), not buffer the rest
  setTimeout(() => socket.resume(), 3000);
};
const disconnector = (rows, socket) => {
  if (rows === 5000) socket.destroy();
};

const mb = (b) => `${(b / 1e6).toFixed(0)} MB`;
const idle = rss();
console.log(`server idle: RSS ${mb(idle)} (${bundle})`);
for (const clients of [1, 50]) {
  const started = performance.now();
  const samples = [];
  const sampler = setInterval(() => samples.push(rss()), 250);
  const runs = [...Array.from({ length: clients }, () => streamOnce())];
  if (clients > 1) runs.push(streamOnce(slowReader), streamOnce(disconnector));
  const results = await Promise.all(runs);
  clearInterval(sampler);
  const seconds = (performance.now() - started) / 1000;
  const streamed = results.reduce((a, r) => a + r.rows, 0);
  const complete = results.slice(0, clients + (clients > 1 ? 1 : 0));
  const correct = complete.filter((r) => r.ok).length;
  // flat means the second half of the run needs no more memory than the first
  const half = Math.floor(samples.length / 2);
  const maxOf = (xs) => (xs.length ? Math.max(...xs) : rss());
  const extra = clients > 1 ? ` + slow reader (${results.at(-2).outcome}) + disconnecting client (${results.at(-1).outcome})` : '';
  console.log(
    `${String(clients).padStart(2)} client(s)${extra} × ${rowsPerClient} rows: ${seconds.toFixed(1)} s, ${(streamed / seconds / 1e6).toFixed(2)} M rows/s, ` +
      `${correct}/${complete.length} complete streams correct, server RSS max ${mb(maxOf(samples.slice(0, half)))} (1st half) / ${mb(maxOf(samples.slice(half)))} (2nd half), peak ${mb(peak())}`,
  );
}
await new Promise((resolve) => setTimeout(resolve, 1000));
console.log(`server after the clients left: RSS ${mb(rss())} (idle was ${mb(idle)}); still answering: ${(await streamOnce()).ok}`);
server.kill('SIGTERM');
