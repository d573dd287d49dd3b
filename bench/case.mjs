// One measured path, in a process of its own: prints { seconds, rows, rss } (rss = peak, bytes).
import { existsSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open } from '../dist/index.js';

// column: the indexed column of the index-build cases (id BIGINT, balance DOUBLE, email VARCHAR)
const [kind, bundleDir, file, format, column = 'id'] = process.argv.slice(2);
const READERS = { parquet: 'read_parquet', csv: 'read_csv', json: 'read_json' };
const query = () => `SELECT * FROM ${READERS[format]}('${file}') WHERE age >= 18`;
const out = path.join(os.tmpdir(), `bundlebase-bench-${process.pid}.parquet`);

// bundlebase is imported first (above), so DuckDB's library loads with bundlebase's allocator
// settings (src/engine/allocator.ts) in every case: the raw cases measure DuckDB on the same
// allocator, and ours are not measured on DuckDB's defaults by a raw import loading it first
async function rawConnection() {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  return instance.connect();
}

/** Wall and CPU seconds (user + system, every thread of the process) of `work` alone. */
async function timed(work) {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  await work();
  const used = process.cpuUsage(cpu);
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, cpu: (used.user + used.system) / 1e6 };
}

const cases = {
  // ours
  async stream() {
    const b = await open(bundleDir);
    await b.schema();
    // growth = peak RSS minus RSS just before the first batch (the bundle open, DuckDB started)
    const rssBefore = process.memoryUsage.rss();
    let rows = 0;
    for await (const batch of b.stream()) rows += batch.numRows;
    const conversion = process.env.BUNDLEBASE_CONVERSION === 'js' ? 'js' : 'native';
    await b.close();
    return { rows, conversion, rssBefore };
  },
  async describeData() {
    const b = await open(bundleDir);
    await b.schema();
    const rssBefore = process.memoryUsage.rss();
    const profiles = await b.describeData();
    await b.close();
    return { rows: profiles[0]?.count ?? 0, columns: profiles.length, rssBefore };
  },
  // store a source in a new bundle (attach with saveAs = format: auto, copy, parquet, ref) and commit
  async attach() {
    const { create } = await import('../dist/index.js');
    rmSync(bundleDir, { recursive: true, force: true });
    const b = await create(bundleDir).attach(file, { saveAs: format });
    await b.commit(`attach ${format}`);
    const rows = await b.numRows();
    await b.close();
    return { rows };
  },
  async export() {
    const b = await open(bundleDir);
    const { rows } = await b.export(out, { format: 'parquet' });
    await b.close();
    return { rows };
  },
  async numRows() {
    const b = await open(bundleDir);
    const rows = await b.numRows();
    await b.close();
    return { rows };
  },
  async toArrow() {
    const b = await open(bundleDir);
    const table = await b.toArrow();
    await b.close();
    return { rows: table.numRows };
  },
  // building an index on `column` over the file read in place (attach is not timed); its own time and CPU
  async 'index-build'() {
    const { create } = await import('../dist/index.js');
    rmSync(bundleDir, { recursive: true, force: true });
    const b = await create(bundleDir).attach(file, { saveAs: 'ref' });
    const rows = await b.numRows();
    const result = await timed(() => b.createIndex(column));
    await b.close();
    rmSync(bundleDir, { recursive: true, force: true });
    return { rows, ...result };
  },
  async lookup() {
    // file = the id to look up here
    const b = await (await open(bundleDir)).extend().filter('id = $1', [Number(file)]);
    const rows = (await b.toObjects()).length;
    await b.close();
    return { rows };
  },
  async function() {
    // bundleDir = number of rows to generate, in pages of 10 000
    const total = Number(bundleDir);
    const { create } = await import('../dist/index.js');
    const b = await create().defineFunction({
      name: 'generated',
      output: { id: 'Int64', label: 'Utf8', score: 'Float64' },
      fn: (page) => {
        const start = page * 10_000;
        if (start >= total) return null;
        return Array.from({ length: Math.min(10_000, total - start) }, (_, i) => ({ id: start + i, label: `row-${start + i}`, score: i / 3 }));
      },
    }).attach('function://generated');
    let rows = 0;
    for await (const batch of b.stream()) rows += batch.numRows;
    await b.close();
    return { rows };
  },
  async open() {
    const b = await open(bundleDir);
    const rows = b.history().length;
    await b.schema();
    await b.close();
    return { rows };
  },
  // raw DuckDB: the floor (no data moved into JS)
  async 'raw-stream'() {
    const connection = await rawConnection();
    const result = await connection.stream(query());
    let rows = 0;
    let chunks = 0;
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      rows += chunk.rowCount;
      if (++chunks % 128 === 0) globalThis.gc?.();
    }
    return { rows };
  },
  // a peer: what a user might pick instead (nodejs-polars, lazy scan + filter + collect)
  async 'polars-collect'() {
    const { default: pl } = await import('nodejs-polars');
    const scan = format === 'parquet' ? pl.scanParquet(file) : format === 'csv' ? pl.scanCSV(file) : pl.scanJson(file);
    const frame = await scan.filter(pl.col('age').gtEq(18)).collect();
    return { rows: frame.height };
  },
  // DuckDB's own aggregates over the same rows: what describeData() computes, with no bundle around it
  async 'raw-profile'() {
    const connection = await rawConnection();
    const columns = (await connection.runAndReadAll(`DESCRIBE ${query()}`)).getRowObjectsJS();
    const numeric = /INT|DOUBLE|FLOAT|DECIMAL/;
    const items = columns.flatMap(({ column_name: name, column_type: type }) => {
      const c = `"${name}"`;
      return [`count(${c})`, `approx_count_distinct(${c})`, `min(${c})`, `max(${c})`, ...(numeric.test(type) ? [`avg(${c})`, `stddev_samp(${c})`] : [])];
    });
    const reader = await connection.runAndReadAll(`SELECT count(*), ${items.join(', ')} FROM (${query()})`);
    return { rows: Number(reader.getRows()[0][0]), columns: columns.length };
  },
  async 'raw-copy'() {
    const connection = await rawConnection();
    const result = await connection.run(`COPY (${query()}) TO '${out}' (FORMAT parquet)`);
    return { rows: result.rowsChanged };
  },
  // the one-time cost of storing a CSV source as Parquet (every row, no filter)
  async 'raw-convert'() {
    const connection = await rawConnection();
    const result = await connection.run(`COPY (SELECT * FROM ${READERS[format]}('${file}')) TO '${out}' (FORMAT parquet)`);
    return { rows: result.rowsChanged };
  },
  // the plain scan an index build is judged by: DuckDB reading the indexed column of the whole file
  async 'raw-scan-column'() {
    const connection = await rawConnection();
    let rows = 0;
    const result = await timed(async () => {
      const reader = await connection.runAndReadAll(`SELECT count(${column}) AS n FROM ${READERS[format]}('${file}')`);
      rows = Number(reader.getRows()[0][0]);
    });
    return { rows, ...result };
  },
  async 'raw-count'() {
    const connection = await rawConnection();
    const reader = await connection.runAndReadAll(`SELECT count(*) AS n FROM (${query()})`);
    return { rows: Number(reader.getRows()[0][0]) };
  },
};

/**
 * Peak RSS of this process: VmHWM, kept per address space. getrusage's maxRSS is not: Linux carries
 * the parent's RSS at spawn across fork + exec, so a small case run by a big bench process read big.
 */
function peakRss() {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(existsSync('/proc/self/status') ? readFileSync('/proc/self/status', 'utf8') : '');
  return hwm ? Number(hwm[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
}

const start = process.hrtime.bigint();
const cpuStart = process.cpuUsage();
const result = await cases[kind]();
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
// CPU seconds of the case (user + system, every thread): steadier than wall time on a shared machine
const { user, system } = process.cpuUsage(cpuStart);
rmSync(out, { force: true });
// a case may time the part it measures itself (seconds, cpu)
console.log(JSON.stringify({ seconds, cpu: (user + system) / 1e6, ...result, rss: peakRss() }));
process.exit(0);
