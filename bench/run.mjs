// npm run bench [-- --rows 1000000,10000000] [--formats parquet,csv,json] [--paths stream,export,...]
// Generates data with DuckDB, then times each path in its own process (so peak RSS is per path)
// beside raw DuckDB doing the same work on the same files, and prints ours/raw.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { create, open } from '../dist/index.js';
import { dataDir, mb, pad, prepareData, runCase } from './common.mjs';

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const sizes = option('rows', '1000000,10000000').split(',').map(Number);
const formats = option('formats', 'parquet,csv,json').split(',');
const paths = option('paths', 'stream,stream-js,export,numRows,toArrow').split(',');
const lookupFormats = option('lookup-formats', 'csv,parquet').split(',').filter(Boolean);
const buildFormats = option('build-formats', 'csv,json,parquet').split(',').filter(Boolean);

console.log(`bundlebase bench — ${new Date().toISOString()} — node ${process.version}`);
console.log(pad('rows', 10) + pad('format', 8) + pad('path', 10) + pad('ours', 10) + pad('raw', 10) + pad('ratio', 8) + pad('ours RSS', 11) + pad('raw RSS', 10) + 'rows/s (ours)');
for (const rows of sizes) {
  for (const format of formats) {
    const { file, bundle, bytes } = await prepareData(rows, format);
    for (const which of paths) {
      const raw = which === 'export' ? 'raw-copy' : which === 'numRows' ? 'raw-count' : 'raw-stream';
      const ourKind = which === 'stream-js' ? 'stream' : which;
      const ours = runCase(ourKind, [bundle, file, format], which === 'stream-js' ? { BUNDLEBASE_CONVERSION: 'js' } : {});
      const base = runCase(raw, [bundle, file, format]);
      console.log(
        pad(rows, 10) + pad(format, 8) + pad(which, 10) +
        pad(`${ours.seconds.toFixed(2)}s`, 10) + pad(`${base.seconds.toFixed(2)}s`, 10) +
        pad(`${(ours.seconds / base.seconds).toFixed(2)}×`, 8) +
        pad(mb(ours.rss), 11) + pad(mb(base.rss), 10) +
        `${(ours.rows / ours.seconds / 1e6).toFixed(2)} M  (${mb(bytes)} file, ${ours.rows} rows${ours.conversion ? `, ${ours.conversion}` : ''})`,
      );
    }
  }
}

// peers: what a user would pick instead, on the same file and filter (all columns, age >= 18)
const peerFormats = formats.filter((f) => f === 'parquet' || f === 'csv');
if (peerFormats.length > 0 && !process.argv.includes('--no-peers')) {
  console.log('\npeers     format  bundlebase stream      raw DuckDB chunks      nodejs-polars collect()');
  for (const rows of sizes) {
    for (const format of peerFormats) {
      const { file, bundle } = await prepareData(rows, format);
      const cell = (r) => pad(`${r.seconds.toFixed(2)}s ${mb(r.rss)}`, 23);
      const [ours, raw, polars] = ['stream', 'raw-stream', 'polars-collect'].map((kind) => runCase(kind, [bundle, file, format]));
      console.log(pad(rows, 10) + pad(format, 8) + cell(ours) + cell(raw) + cell(polars));
    }
  }
}

// stored as Parquet against read in place: the same rows, streamed from a bundle over the CSV file
// and from one over a Parquet copy of it (what converting at attach buys), and the copy's one-time cost
if (formats.includes('csv') && !process.argv.includes('--no-peers')) {
  console.log('\nstored    CSV in place           Parquet copy           Parquet/CSV  conversion (COPY csv → parquet, once)');
  for (const rows of sizes) {
    const csv = await prepareData(rows, 'csv');
    const parquet = await prepareData(rows, 'parquet');
    const inPlace = runCase('stream', [csv.bundle, csv.file, 'csv']);
    const stored = runCase('stream', [parquet.bundle, parquet.file, 'parquet']);
    const convert = runCase('raw-convert', ['', csv.file, 'csv']);
    const cell = (r) => pad(`${r.seconds.toFixed(2)}s ${mb(r.rss)}`, 23);
    console.log(pad(rows, 10) + cell(inPlace) + cell(stored) + pad(`${(stored.seconds / inPlace.seconds).toFixed(2)}×`, 13) + `${convert.seconds.toFixed(2)}s ${mb(convert.rss)} (${mb(parquet.bytes)} from ${mb(csv.bytes)})`);
  }
}

// equality lookups: the same bundle with and without an index on id
console.log('\nrows      format  lookup id = ?       indexed   plain     speed-up  index build');
for (const rows of sizes) {
  for (const format of lookupFormats) {
    const { file } = await prepareData(rows, format);
    const indexedDir = path.join(dataDir, `bundle-ix-${rows}-${format}`);
    let build = 'existing';
    if (!existsSync(indexedDir)) {
      const b = await create(indexedDir).attach(file, { saveAs: 'ref' }); // indexes serve CSV read in place
      const start = performance.now();
      await b.createIndex('id');
      build = `${((performance.now() - start) / 1000).toFixed(1)}s`;
      await b.commit('indexed');
      await b.close();
    }
    const plainDir = path.join(dataDir, `bundle-plain-${rows}-${format}`);
    if (!existsSync(plainDir)) await create(plainDir).attach(file, { saveAs: 'ref' }).commit('plain');
    const id = String(Math.floor(rows / 2) + 7);
    const withIndex = runCase('lookup', [indexedDir, id, format]);
    const without = runCase('lookup', [plainDir, id, format]);
    console.log(pad(rows, 10) + pad(format, 8) + pad(`${withIndex.rows} row(s)`, 20) + pad(`${withIndex.seconds.toFixed(3)}s`, 10) + pad(`${without.seconds.toFixed(3)}s`, 10) + pad(`${(without.seconds / withIndex.seconds).toFixed(1)}×`, 10) + build);
  }
}

// building an index beside a plain scan of the same file: raw DuckDB's SELECT count(column) over it
// (the whole file read and the column parsed, 2 threads); wall and CPU seconds (user + system, all
// threads); an integer, a floating-point and a text column
console.log('\nindex build beside a plain scan (raw DuckDB SELECT count(column) over the file), goal ≤ 1.5×');
console.log('rows      format  column   index build (wall, CPU)  plain scan (wall, CPU)  ratio wall  ratio CPU  build RSS');
for (const rows of sizes) {
  for (const format of buildFormats) {
    const { file } = await prepareData(rows, format);
    for (const column of format === 'parquet' ? ['id'] : ['id', 'balance', 'email']) {
      const build = runCase('index-build', [path.join(dataDir, `bundle-ix-build-${rows}-${format}`), file, format, column]);
      const scan = runCase('raw-scan-column', ['', file, format, column]);
      const cell = (r) => pad(`${r.seconds.toFixed(2)}s ${r.cpu.toFixed(2)}s`, 24);
      console.log(
        pad(rows, 10) + pad(format, 8) + pad(column, 9) + cell(build) + cell(scan) +
        pad(`${(build.seconds / scan.seconds).toFixed(2)}×`, 12) + pad(`${(build.cpu / scan.cpu).toFixed(2)}×`, 11) + mb(build.rss) +
        (format === 'parquet' ? '  (nothing to build: row-group statistics serve Parquet lookups)' : ''),
      );
    }
  }
}

// a generated function source (function://), streamed
// goals (issue 15): ≥ 3 M rows/s at 10 M rows, peak RSS ≤ 250 MB
const FUNCTION_GOAL = { rowsPerSecond: 3e6, rss: 250e6 };
const meets = (ok) => (ok ? 'met' : 'NOT met');
console.log('\nfunction source rows   time      cpu       rows/s    (goal ≥ 3 M)      peak RSS  (goal ≤ 250 MB)');
for (const rows of sizes) {
  const r = runCase('function', [String(rows), '', '']);
  const rate = r.rows / r.seconds;
  console.log(
    pad(rows, 23) + pad(`${r.seconds.toFixed(2)}s`, 10) + pad(`${r.cpu.toFixed(2)}s`, 10) + pad(`${(rate / 1e6).toFixed(2)} M`, 10) +
    pad(`(${meets(rate >= FUNCTION_GOAL.rowsPerSecond)})`, 18) + pad(mb(r.rss), 10) + `(${meets(r.rss <= FUNCTION_GOAL.rss)})`,
  );
}

// reopening a bundle with a long history
const many = path.join(dataDir, 'bundle-1000-commits');
if (!existsSync(many)) {
  const { file } = await prepareData(sizes[0], formats[0]);
  const b = await create(many).attach(file);
  for (let i = 0; i < 1000; i++) {
    if (i % 2) await b.filter(`id <> ${i}`);
    else await b.setDescription(`step ${i}`);
    await b.commit(`commit ${i}`);
  }
  await b.close();
}
// the median of 3 runs (goal, issue 15: ≤ 0.3 s at ≤ 200 MB peak RSS)
const opens = [0, 1, 2].map(() => runCase('open', [many, '', ''])).sort((a, b) => a.seconds - b.seconds);
const opened = opens[1];
console.log(
  `open a bundle with 1000 commits: ${opened.seconds.toFixed(3)}s (goal ≤ 0.300s), CPU ${opened.cpu.toFixed(3)}s, ` +
    `peak RSS ${mb(opened.rss)} (goal ≤ 200 MB)`,
);
