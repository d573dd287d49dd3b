// npm run bench:memory [-- --rows 1000000,10000000,100000000] [--formats csv,parquet] [--cap 192] [--cap-gb 10]
// Constant memory, shown two ways:
// 1. a scaling table: stream() of each size to the end, one process each: rows, bytes, seconds,
//    s/GB, peak RSS and growth (peak minus RSS just before the first batch; the rule is ≤ 100 MB);
// 2. a source of ≥ --cap-gb GB streamed to the end inside a memory cgroup capped at --cap MB
//    (cgroup v1's memory controller; set up here, as root), printing time and peak usage. The
//    kernel kills the process if it ever needs more than the cap.
// Sources over 2 GB are generated (DuckDB COPY from range()) in a temporary directory that is
// removed when the bench ends; smaller ones are kept in bench/data like the other benches'.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create } from '../dist/index.js';
import { GENERATOR_SQL, here, mb, pad, prepareData, runCase } from './common.mjs';
// after bundlebase: DuckDB's library loads with bundlebase's allocator settings (src/engine/allocator.ts)
import { DuckDBInstance } from '@duckdb/node-api';

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const sizes = option('rows', '1000000,10000000,100000000').split(',').map(Number);
const formats = option('formats', 'csv,parquet').split(',');
const capMb = Number(option('cap', '192'));
const capGb = Number(option('cap-gb', '10'));

/** Bytes a generated row takes on disk (the scaling table's files), to size sources before writing them. */
const BYTES_PER_ROW = { csv: 112, parquet: 20, 'parquet-uncompressed': 60 };
const BIG = 2e9;

const bigDir = mkdtempSync(path.join(os.tmpdir(), 'bundlebase-limit-'));
process.on('exit', () => rmSync(bigDir, { recursive: true, force: true }));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

console.log(`bundlebase memory bench — ${new Date().toISOString()} — node ${process.version}`);
const cgroupRoot = '/sys/fs/cgroup/memory';
const canCap = process.getuid?.() === 0 && existsSync(path.join(cgroupRoot, 'cgroup.procs'));
if (!canCap) console.log(`(the ${capMb} MB cgroup runs are skipped: they need root and cgroup v1's memory controller at ${cgroupRoot})`);

for (const format of formats) {
  console.log('\n' + pad('rows', 12) + pad('format', 8) + pad('bytes', 10) + pad('seconds', 9) + pad('s/GB', 7) + pad('rows/s', 9) + pad('peak RSS', 10) + 'growth');
  let capped; // a source of the scaling table big enough for the capped run
  for (const rows of sizes) {
    const source = await generated(rows, format);
    if (!source) continue;
    const r = runCase('stream', [source.bundle, source.file, format]);
    console.log(
      pad(rows, 12) + pad(format, 8) + pad(gb(source.bytes), 10) + pad(r.seconds.toFixed(2), 9) + pad((r.seconds / (source.bytes / 1e9)).toFixed(2), 7) +
      pad(`${(r.rows / r.seconds / 1e6).toFixed(2)} M`, 9) + pad(mb(r.rss), 10) + mb(r.rss - r.rssBefore),
    );
    if (source.bytes >= capGb * 1e9 && !capped) capped = source;
    else if (source.temporary) rmSync(source.dir, { recursive: true, force: true });
  }
  if (!canCap) continue;
  // Parquet of the generator's rows is ~20 bytes a row: ≥ 10 GB of it is written uncompressed
  capped ??= await generated(Math.ceil((capGb * 1e9) / BYTES_PER_ROW[format === 'parquet' ? 'parquet-uncompressed' : format] / 1e7) * 1e7, format, format === 'parquet');
  if (!capped) continue;
  console.log(`\n${format}: ${gb(capped.bytes)} streamed inside a memory cgroup capped at ${capMb} MB (page cache counts toward it and is reclaimed)`);
  console.log(pad('format', 8) + pad('rows', 12) + pad('bytes', 10) + pad('seconds', 9) + pad('s/GB', 7) + pad('peak RSS', 10) + pad('growth', 9) + pad('cgroup peak', 13) + 'outcome');
  const r = runCapped(['stream', capped.bundle, capped.file, format]);
  const outcome = r.killed ? `KILLED (${r.signal}; cgroup OOM events ${r.failcnt})` : r.status === 0 ? `ok, ${r.result.rows} rows` : `failed (exit ${r.status}): ${r.stderr.trim().split('\n').at(-1)}`;
  const seconds = r.result?.seconds;
  console.log(
    pad(format, 8) + pad(capped.rows, 12) + pad(gb(capped.bytes), 10) + pad(seconds ? seconds.toFixed(1) : '-', 9) + pad(seconds ? (seconds / (capped.bytes / 1e9)).toFixed(2) : '-', 7) +
    pad(r.result ? mb(r.result.rss) : '-', 10) + pad(r.result ? mb(r.result.rss - r.result.rssBefore) : '-', 9) + pad(mb(r.peak), 13) + outcome,
  );
  if (capped.temporary) rmSync(capped.dir, { recursive: true, force: true });
}

function gb(bytes) {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${(bytes / 1e6).toFixed(0)} MB`;
}

/**
 * The bench generator's `rows` as `format` and a bundle reading it in place, filtered on age >= 18.
 * Small ones come from bench/data; big ones are written in the temporary directory (undefined,
 * with a message, when the disk has not room for them).
 */
async function generated(rows, format, uncompressed = false) {
  const estimate = rows * BYTES_PER_ROW[uncompressed ? 'parquet-uncompressed' : format];
  if (estimate < BIG && !uncompressed) return { ...(await prepareData(rows, format)), rows };
  const { bavail, bsize } = statfsSync(bigDir);
  const free = bavail * bsize;
  if (free < estimate * 1.1 + 5e9) {
    console.log(`(skipping ${rows} rows of ${format}: ~${gb(estimate)} needed, ${gb(free)} free in ${bigDir})`);
    return undefined;
  }
  const dir = mkdtempSync(path.join(bigDir, `${format}-${rows}-`));
  const file = path.join(dir, `people.${format}`);
  const options = format === 'csv' ? 'FORMAT csv, HEADER true' : `FORMAT parquet${uncompressed ? ", COMPRESSION 'uncompressed'" : ''}`;
  const started = performance.now();
  const connection = await (await DuckDBInstance.create(':memory:')).connect();
  await connection.run(`COPY (${GENERATOR_SQL(rows)}) TO '${file}' (${options})`);
  connection.closeSync();
  console.log(`(generated ${rows} rows of ${uncompressed ? 'uncompressed ' : ''}${format}, ${gb(statSync(file).size)}, in ${((performance.now() - started) / 1000).toFixed(0)} s)`);
  const bundle = path.join(dir, 'bundle');
  const b = await create(bundle).attach(file, { saveAs: 'ref' }).filter('age >= $1', [18]);
  await b.commit(`memory bench ${rows} ${format}`);
  await b.close();
  return { file, bundle, dir, rows, temporary: true, bytes: statSync(file).size };
}

/** Runs one case in a fresh memory cgroup capped at capMb (the shell joins it before exec'ing node). */
function runCapped(args) {
  const group = path.join(cgroupRoot, `bundlebase-bench-${process.pid}`);
  mkdirSync(group);
  try {
    writeFileSync(path.join(group, 'memory.limit_in_bytes'), String(capMb * 1024 * 1024));
    // without swap accounting the cap is on RAM only; with it, swap may not stretch the cap either
    const memsw = path.join(group, 'memory.memsw.limit_in_bytes');
    if (existsSync(memsw)) writeFileSync(memsw, String(capMb * 1024 * 1024));
    const script = `echo $$ > ${path.join(group, 'cgroup.procs')} && exec "$0" --expose-gc "$@"`;
    // a case the cap kills cannot remove its private temp dir: it goes with bigDir
    const env = { ...process.env, TMPDIR: bigDir };
    const child = spawnSync('sh', ['-c', script, process.execPath, path.join(here, 'case.mjs'), ...args], { encoding: 'utf8', maxBuffer: 1 << 20, env });
    const read = (name) => Number(readFileSync(path.join(group, name), 'utf8'));
    const result = child.status === 0 ? JSON.parse(child.stdout.trim().split('\n').at(-1)) : undefined;
    return { status: child.status, signal: child.signal, killed: child.signal === 'SIGKILL', stderr: child.stderr, result, peak: read('memory.max_usage_in_bytes'), failcnt: read('memory.failcnt') };
  } finally {
    rmdirSync(group);
  }
}
