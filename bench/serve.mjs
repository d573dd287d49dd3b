// npm run bench:serve — server memory while many PostgreSQL clients stream at once.
// Starts `bundlebase serve` on the 10 M-row Parquet bench bundle (run `npm run bench` first to
// generate it), streams with 1 and then 50 concurrent clients, and prints the server's peak RSS.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const here = path.dirname(fileURLToPath(import.meta.url));
const bundle = path.join(here, 'data', 'bundle-10000000-parquet');
if (!existsSync(bundle)) {
  console.error(`${bundle} is missing: run npm run bench first`);
  process.exit(1);
}
const rowsPerClient = Number(process.argv[2] ?? 200000);

const server = spawn(process.execPath, [path.join(here, '..', 'dist', 'cli', 'main.js'), 'serve', bundle, '--pg-port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve) => {
  let out = '';
  server.stdout.on('data', (d) => {
    out += d;
    const m = /:(\d+)\/bundle/.exec(out);
    if (m) resolve(Number(m[1]));
  });
});
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))[1]) * 1024;
const peak = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))[1]) * 1024;

async function streamOnce() {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'bench' });
  await client.connect();
  let rows = 0;
  await new Promise((resolve, reject) => {
    const query = client.query(new pg.Query(`SELECT id, first_name, email, balance FROM bundle LIMIT ${rowsPerClient}`));
    query.on('row', () => rows++); // rows are counted, not kept
    query.on('end', resolve);
    query.on('error', reject);
  });
  await client.end();
  return rows;
}

const mb = (b) => `${(b / 1e6).toFixed(0)} MB`;
console.log(`server idle: RSS ${mb(rss())}`);
for (const clients of [1, 50]) {
  const started = performance.now();
  const samples = [];
  const sampler = setInterval(() => samples.push(rss()), 250);
  const rows = (await Promise.all(Array.from({ length: clients }, streamOnce))).reduce((a, b) => a + b, 0);
  clearInterval(sampler);
  const seconds = (performance.now() - started) / 1000;
  // flat means the second half of the run needs no more memory than the first
  const half = Math.floor(samples.length / 2);
  const maxOf = (xs) => (xs.length ? Math.max(...xs) : rss());
  console.log(`${String(clients).padStart(2)} client(s) × ${rowsPerClient} rows: ${seconds.toFixed(1)} s, ${(rows / seconds / 1e6).toFixed(2)} M rows/s, server RSS max ${mb(maxOf(samples.slice(0, half)))} (1st half) / ${mb(maxOf(samples.slice(half)))} (2nd half), peak ${mb(peak())}`);
}
server.kill('SIGTERM');
