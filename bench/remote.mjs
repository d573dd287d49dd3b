// npm run bench:remote [-- --gb 1]
// A Parquet source of ≥ --gb GB in a bucket (s3rver on 127.0.0.1, started here), read by a local
// bundle through the content cache: stream() to the end twice, each in a process of its own —
// first with an empty cache (download, then read), then again (cache hit, no download). Then a
// bundle in the bucket storing the same file: attach + commit (copied in, uploaded in parts), and
// its two reads the same way. Prints seconds and peak RSS of each; constant memory means all stay
// flat whatever the size.
import { createReadStream, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { create } from '../dist/index.js';
import { dataDir, GENERATOR_SQL, mb, pad, runCase } from './common.mjs';
// after bundlebase: DuckDB's library loads with bundlebase's allocator settings (src/engine/allocator.ts)
import { DuckDBInstance } from '@duckdb/node-api';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const i = process.argv.indexOf('--gb');
const gb = Number(i >= 0 ? process.argv[i + 1] : 1);
const rows = Math.ceil((gb * 1e9) / 60 / 1e6) * 1e6; // ~60 bytes a row, uncompressed Parquet

mkdirSync(dataDir, { recursive: true });
const file = path.join(dataDir, `remote-${rows}.parquet`);
if (!existsSync(file)) {
  console.log(`(generating ${rows} rows of uncompressed Parquet…)`);
  const connection = await (await DuckDBInstance.create(':memory:')).connect();
  await connection.run(`COPY (${GENERATOR_SQL(rows)}) TO '${file}.tmp' (FORMAT parquet, COMPRESSION 'uncompressed')`);
  connection.closeSync();
  renameSync(`${file}.tmp`, file);
}
const bytes = statSync(file).size;

const work = mkdtempSync(path.join(os.tmpdir(), 'bundlebase-bench-remote-'));
// a process of its own: the cases below run synchronously (runCase), which would stall an in-process server
const port = 45000 + (process.pid % 5000);
const bin = path.join(path.dirname(createRequire(import.meta.url).resolve('s3rver/package.json')), 'bin', 's3rver.js');
mkdirSync(path.join(work, 's3'));
const server = spawn(process.execPath, [bin, '-d', path.join(work, 's3'), '-a', '127.0.0.1', '-p', String(port), '--configure-bucket', 'bench', '-s'], { stdio: 'ignore' });
await new Promise((resolve) => setTimeout(resolve, 2000));
try {
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  console.log(`(uploading ${(bytes / 1e9).toFixed(2)} GB to s3rver…)`);
  await new Upload({ client, params: { Bucket: 'bench', Key: 'big.parquet', Body: createReadStream(file) }, partSize: 16 << 20, queueSize: 4 }).done();

  const env = { BB_S3_ENDPOINT: endpoint, BB_S3_ALLOW_HTTP: 'true', BB_S3_ACCESS_KEY_ID: 'S3RVER', BB_S3_SECRET_ACCESS_KEY: 'S3RVER', BUNDLEBASE_CACHE: path.join(work, 'cache') };
  Object.assign(process.env, env);
  const bundle = path.join(work, 'bundle');
  const b = await create(bundle).attach('s3://bench/big.parquet', { saveAs: 'ref' }).filter('age >= $1', [18]);
  await b.commit('remote bench');
  await b.close();
  rmSync(env.BUNDLEBASE_CACHE, { recursive: true, force: true }); // attach downloaded it: start cold

  console.log(`\nbundlebase remote bench — ${new Date().toISOString()} — node ${process.version}`);
  const row = (label, r) => console.log(pad(label, 34) + pad(`${(bytes / 1e9).toFixed(2)} GB`, 10) + pad(r.rows, 12) + pad(r.seconds.toFixed(1), 9) + pad(mb(r.rss), 10) + (r.rssBefore === undefined ? '' : mb(r.rss - r.rssBefore)));
  console.log(pad('a Parquet source in a bucket', 34) + pad('bytes', 10) + pad('rows', 12) + pad('seconds', 9) + pad('peak RSS', 10) + 'growth while streaming');
  row('first read (download + stream)', runCase('stream', [bundle, 'unused', 'parquet'], env));
  row('second read (cache hit)', runCase('stream', [bundle, 'unused', 'parquet'], env));

  // a bundle in the bucket storing the file: attach copies it in, commit uploads it (multipart)
  const stored = 's3://bench/stored';
  const commit = `import { create } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
    const t = performance.now();
    const b = await create(${JSON.stringify(stored)}).attach(${JSON.stringify(file)});
    await b.commit('stored');
    await b.close();
    // peak RSS as VmHWM: getrusage's maxRSS carries the parent's RSS across fork + exec (see case.mjs)
    const hwm = /VmHWM:\\s+(\\d+) kB/.exec((await import('node:fs')).readFileSync('/proc/self/status', 'utf8'));
    console.log(JSON.stringify({ seconds: (performance.now() - t) / 1000, rss: hwm ? Number(hwm[1]) * 1024 : process.resourceUsage().maxRSS * 1024, rows: '' }));`;
  const committed = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', commit], { env: { ...process.env, ...env }, encoding: 'utf8' }).trim().split('\n').at(-1));
  rmSync(env.BUNDLEBASE_CACHE, { recursive: true, force: true });
  console.log(`\n${pad('a bundle in a bucket, data stored', 34)}`);
  row('attach + commit (copy + upload)', committed);
  row('first read (download + stream)', runCase('stream', [stored, 'unused', 'parquet'], env));
  row('second read (cache hit)', runCase('stream', [stored, 'unused', 'parquet'], env));
} finally {
  server.kill();
  rmSync(work, { recursive: true, force: true });
}
