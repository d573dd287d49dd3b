// npm run bench:profile [-- --rows 10000000] [--formats parquet,csv]
// describeData() over every column of the bench's generated rows (10 columns, filtered age >= 18),
// each run in a process of its own: time, peak RSS and its growth while profiling (peak minus RSS
// just before the call; constant memory means it stays flat as rows grow), beside DuckDB computing
// the same aggregates on the same file with no bundle around it.
import { mb, pad, prepareData, runCase } from './common.mjs';

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const sizes = option('rows', '10000000').split(',').map(Number);
const formats = option('formats', 'parquet,csv').split(',');

console.log(`bundlebase describeData bench — ${new Date().toISOString()} — node ${process.version}`);
console.log(pad('rows', 11) + pad('format', 8) + pad('profiled', 10) + pad('ours', 9) + pad('raw', 9) + pad('ratio', 7) + pad('peak RSS', 10) + pad('growth', 9) + 'raw RSS');
for (const rows of sizes) {
  for (const format of formats) {
    const { file, bundle } = await prepareData(rows, format);
    const ours = runCase('describeData', [bundle, file, format]);
    const raw = runCase('raw-profile', [bundle, file, format]);
    if (ours.rows !== raw.rows) throw new Error(`describeData counted ${ours.rows} rows, DuckDB ${raw.rows}`);
    console.log(
      pad(rows, 11) + pad(format, 8) + pad(ours.rows, 10) + pad(`${ours.seconds.toFixed(2)}s`, 9) + pad(`${raw.seconds.toFixed(2)}s`, 9) +
      pad(`${(ours.seconds / raw.seconds).toFixed(2)}×`, 7) + pad(mb(ours.rss), 10) + pad(mb(ours.rss - ours.rssBefore), 9) + mb(raw.rss),
    );
  }
}
