// npm run bench:store [-- --rows 11000000,1000000]
// Self-contained bundles (attach's saveAs), each step in a process of its own (peak RSS is the step's):
// 1. attaching a generated CSV with `auto` (DuckDB converts it to Parquet inside the bundle, hashed):
//    seconds and peak RSS, at two sizes, so a flat RSS shows (the rule: it does not grow with the file);
// 2. reading the stored bundle vs the same CSV read in place (`ref`): stream() of every row and
//    export() (DuckDB only), each the first read of its process (the stored copy is hashed first).
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { dataDir, GENERATOR_SQL, mb, pad, runCase } from './common.mjs';
// after bundlebase: DuckDB's library loads with bundlebase's allocator settings (src/engine/allocator.ts)
import { DuckDBInstance } from '@duckdb/node-api';

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const sizes = option('rows', '11000000,1000000').split(',').map(Number);
const gb = (bytes) => (bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : mb(bytes));

async function csvOf(rows) {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, `people-${rows}.csv`);
  if (!existsSync(file)) {
    const connection = await (await DuckDBInstance.create(':memory:')).connect();
    await connection.run(`COPY (${GENERATOR_SQL(rows)}) TO '${file}' (FORMAT csv, HEADER true)`);
    connection.closeSync();
  }
  return file;
}

console.log(`bundlebase store bench — ${new Date().toISOString()} — node ${process.version}`);
console.log('\nattach (saveAs auto: CSV → Parquet in the bundle, hashed)');
console.log(pad('rows', 12) + pad('CSV', 10) + pad('stored', 10) + pad('seconds', 9) + pad('s/GB', 7) + 'peak RSS');
const bundles = [];
for (const rows of sizes) {
  const file = await csvOf(rows);
  const stored = path.join(dataDir, `store-${rows}-auto`);
  const r = runCase('attach', [stored, file, 'auto']);
  const bytes = statSync(file).size;
  const storedBytes = (await import('node:fs')).readdirSync(stored, { recursive: true }).filter((f) => f.endsWith('.parquet')).reduce((n, f) => n + statSync(path.join(stored, f)).size, 0);
  console.log(pad(rows, 12) + pad(gb(bytes), 10) + pad(gb(storedBytes), 10) + pad(r.seconds.toFixed(2), 9) + pad((r.seconds / (bytes / 1e9)).toFixed(2), 7) + mb(r.rss));
  bundles.push({ rows, file, stored });
}

const { rows, file, stored } = bundles[0];
const referenced = path.join(dataDir, `store-${rows}-ref`);
runCase('attach', [referenced, file, 'ref']);
console.log(`\nreading ${rows} rows: the stored bundle vs the CSV read in place (first read of a process each)`);
console.log(pad('read', 10) + pad('ref (CSV)', 12) + pad('stored', 12) + pad('speed-up', 10) + 'peak RSS ref / stored');
for (const kind of ['stream', 'export']) {
  const ref = runCase(kind, [referenced, file, 'csv']);
  const own = runCase(kind, [stored, file, 'csv']);
  console.log(pad(kind, 10) + pad(`${ref.seconds.toFixed(2)} s`, 12) + pad(`${own.seconds.toFixed(2)} s`, 12) + pad(`${(ref.seconds / own.seconds).toFixed(2)}×`, 10) + `${mb(ref.rss)} / ${mb(own.rss)}`);
}
