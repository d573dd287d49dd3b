// npm run bench [-- --rows 1000000,10000000] [--formats parquet,csv,json] [--paths stream,export,...]
// Generates data with DuckDB, then times each path in its own process (so peak RSS is per path)
// beside raw DuckDB doing the same work on the same files, and prints ours/raw.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { create, open } from '../dist/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const dataDir = path.join(here, 'data');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const sizes = option('rows', '1000000,10000000').split(',').map(Number);
const formats = option('formats', 'parquet,csv,json').split(',');
const paths = option('paths', 'stream,stream-js,export,numRows,toArrow').split(',');
const lookupFormats = option('lookup-formats', 'csv,parquet').split(',').filter(Boolean);

/** 10 columns like DESIGN §5: 3 BIGINT, 4 VARCHAR (one long), DOUBLE, TIMESTAMP, BOOLEAN. */
const GENERATOR = (rows) => `
  SELECT i AS id, i % 90 AS age, (i * 7) % 1000 AS score,
         'first' || (i % 1000) AS first_name, 'last' || (i % 5000) AS last_name,
         'user.' || i || '@example-mail.org' AS email, 'city' || (i % 300) AS city,
         (i % 10000) / 7.0 AS balance, TIMESTAMP '2020-01-01' + to_seconds(i) AS created,
         i % 3 = 0 AS active
  FROM range(${rows}) t(i)`;

const COPY_FORMAT = { parquet: 'FORMAT parquet', csv: 'FORMAT csv, HEADER true', json: 'FORMAT json' };

async function prepareData(rows, format) {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, `people-${rows}.${format}`);
  const bundle = path.join(dataDir, `bundle-${rows}-${format}`);
  if (!existsSync(file)) {
    const connection = await (await DuckDBInstance.create(':memory:')).connect();
    await connection.run(`COPY (${GENERATOR(rows)}) TO '${file}' (${COPY_FORMAT[format]})`);
    connection.closeSync();
  }
  if (!existsSync(bundle)) {
    const b = await create(bundle).attach(file).filter('age >= $1', [18]);
    await b.commit(`bench ${rows} ${format}`);
    await b.close();
  }
  return { file, bundle, bytes: statSync(file).size };
}

function runCase(kind, args, env = {}) {
  const out = execFileSync(process.execPath, ['--expose-gc', path.join(here, 'case.mjs'), kind, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split('\n').at(-1));
}

const mb = (bytes) => `${(bytes / 1e6).toFixed(0)} MB`;
const pad = (s, n) => String(s).padEnd(n);

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

// equality lookups: the same bundle with and without an index on id
console.log('\nrows      format  lookup id = ?       indexed   plain     speed-up  index build');
for (const rows of sizes) {
  for (const format of lookupFormats) {
    const { file } = await prepareData(rows, format);
    const indexedDir = path.join(dataDir, `bundle-ix-${rows}-${format}`);
    let build = 'existing';
    if (!existsSync(indexedDir)) {
      const b = await create(indexedDir).attach(file);
      const start = performance.now();
      await b.createIndex('id');
      build = `${((performance.now() - start) / 1000).toFixed(1)}s`;
      await b.commit('indexed');
      await b.close();
    }
    const plainDir = path.join(dataDir, `bundle-plain-${rows}-${format}`);
    if (!existsSync(plainDir)) await create(plainDir).attach(file).commit('plain');
    const id = String(Math.floor(rows / 2) + 7);
    const withIndex = runCase('lookup', [indexedDir, id, format]);
    const without = runCase('lookup', [plainDir, id, format]);
    console.log(pad(rows, 10) + pad(format, 8) + pad(`${withIndex.rows} row(s)`, 20) + pad(`${withIndex.seconds.toFixed(3)}s`, 10) + pad(`${without.seconds.toFixed(3)}s`, 10) + pad(`${(without.seconds / withIndex.seconds).toFixed(1)}×`, 10) + build);
  }
}

// a generated function source (function://), streamed
console.log('\nfunction source rows   time      rows/s    peak RSS');
for (const rows of sizes) {
  const r = runCase('function', [String(rows), '', '']);
  console.log(pad(rows, 23) + pad(`${r.seconds.toFixed(2)}s`, 10) + pad(`${(r.rows / r.seconds / 1e6).toFixed(2)} M`, 10) + mb(r.rss));
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
const opened = runCase('open', [many, '', '']);
console.log(`open a bundle with 1000 commits: ${opened.seconds.toFixed(3)}s, peak RSS ${mb(opened.rss)}`);
