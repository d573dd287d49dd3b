// npm run bench:memory [-- --rows 1000000,10000000,100000000] [--formats csv,parquet] [--cap 192] [--cap-gb 10]
// Constant memory, shown two ways:
// 1. a scaling table: stream() of each size to the end, one process each: rows, bytes, seconds,
//    s/GB, peak RSS and growth (peak minus RSS just before the first batch; the rule is ≤ 100 MB);
// 2. a source of ≥ --cap-gb GB streamed to the end inside a memory cgroup capped at --cap MB
//    (cgroup v1's memory controller; set up here, as root), printing time and peak usage. The
//    kernel kills the process if it ever needs more than the cap.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { create } from '../dist/index.js';
import { dataDir, GENERATOR_SQL, here, mb, pad, prepareData, runCase } from './common.mjs';

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const sizes = option('rows', '1000000,10000000,100000000').split(',').map(Number);
const formats = option('formats', 'csv,parquet').split(',');
const capMb = Number(option('cap', '192'));
const capGb = Number(option('cap-gb', '10'));

console.log(`bundlebase memory bench — ${new Date().toISOString()} — node ${process.version}`);
console.log('\n' + pad('rows', 12) + pad('format', 8) + pad('bytes', 10) + pad('seconds', 9) + pad('s/GB', 7) + pad('rows/s', 9) + pad('peak RSS', 10) + 'growth');
for (const format of formats) {
  for (const rows of sizes) {
    const { file, bundle, bytes } = await prepareData(rows, format);
    const r = runCase('stream', [bundle, file, format]);
    console.log(
      pad(rows, 12) + pad(format, 8) + pad(gb(bytes), 10) + pad(r.seconds.toFixed(2), 9) + pad((r.seconds / (bytes / 1e9)).toFixed(2), 7) +
      pad(`${(r.rows / r.seconds / 1e6).toFixed(2)} M`, 9) + pad(mb(r.rss), 10) + mb(r.rss - r.rssBefore),
    );
  }
}

const cgroupRoot = '/sys/fs/cgroup/memory';
if (process.getuid?.() !== 0 || !existsSync(path.join(cgroupRoot, 'cgroup.procs'))) {
  console.log(`\nSkipping the ${capMb} MB cgroup run: it needs root and cgroup v1's memory controller at ${cgroupRoot}`);
} else {
  console.log(`\nstreaming ≥ ${capGb} GB inside a memory cgroup capped at ${capMb} MB (page cache counts toward it and is reclaimed)`);
  console.log(pad('format', 8) + pad('rows', 12) + pad('bytes', 10) + pad('seconds', 9) + pad('s/GB', 7) + pad('peak RSS', 10) + pad('cgroup peak', 13) + 'outcome');
  for (const format of formats) {
    const { file, bundle, bytes, rows } = await bigSource(format, capGb * 1e9);
    const r = runCapped(['stream', bundle, file, format]);
    const outcome = r.killed ? `KILLED (${r.signal}; cgroup OOM events ${r.failcnt})` : r.status === 0 ? `ok, ${r.result.rows} rows` : `failed (exit ${r.status}): ${r.stderr.trim().split('\n').at(-1)}`;
    const seconds = r.result?.seconds;
    console.log(
      pad(format, 8) + pad(rows, 12) + pad(gb(bytes), 10) + pad(seconds ? seconds.toFixed(1) : '-', 9) + pad(seconds ? (seconds / (bytes / 1e9)).toFixed(2) : '-', 7) +
      pad(r.result ? mb(r.result.rss) : '-', 10) + pad(mb(r.peak), 13) + outcome,
    );
  }
}

function gb(bytes) {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${(bytes / 1e6).toFixed(0)} MB`;
}

/**
 * A source of at least `minBytes`: the bench generator's rows, written as uncompressed Parquet for
 * Parquet (else 10 GB would take half a billion rows to generate), and a bundle reading it in place.
 */
async function bigSource(format, minBytes) {
  const perRow = { csv: 111, parquet: 60 }[format];
  const rows = Math.ceil(minBytes / perRow / 1e7) * 1e7;
  // the scaling table's CSV of that size serves (10 GB = 100 M rows)
  if (format === 'csv') return { ...(await prepareData(rows, format)), rows };
  const file = path.join(dataDir, `big-${rows}.${format}`);
  const bundle = path.join(dataDir, `bundle-big-${rows}-${format}`);
  mkdirSync(dataDir, { recursive: true });
  if (!existsSync(file)) {
    const tmp = `${file}.tmp`;
    const connection = await (await DuckDBInstance.create(':memory:')).connect();
    const options = format === 'csv' ? 'FORMAT csv, HEADER true' : "FORMAT parquet, COMPRESSION 'uncompressed'";
    console.log(`(generating ${rows} rows of ${format} for the capped run…)`);
    await connection.run(`COPY (${GENERATOR_SQL(rows)}) TO '${tmp}' (${options})`);
    connection.closeSync();
    renameSync(tmp, file);
  }
  if (!existsSync(bundle)) {
    const b = await create(bundle).attach(file, { saveAs: 'ref' }).filter('age >= $1', [18]);
    await b.commit(`capped bench ${rows} ${format}`);
    await b.close();
  }
  return { file, bundle, rows, bytes: statSync(file).size };
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
    const child = spawnSync('sh', ['-c', script, process.execPath, path.join(here, 'case.mjs'), ...args], { encoding: 'utf8', maxBuffer: 1 << 20 });
    const read = (name) => Number(readFileSync(path.join(group, name), 'utf8'));
    const result = child.status === 0 ? JSON.parse(child.stdout.trim().split('\n').at(-1)) : undefined;
    return { status: child.status, signal: child.signal, killed: child.signal === 'SIGKILL', stderr: child.stderr, result, peak: read('memory.max_usage_in_bytes'), failcnt: read('memory.failcnt') };
  } finally {
    rmdirSync(group);
  }
}
