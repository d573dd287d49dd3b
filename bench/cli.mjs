// npm run bench:cli [-- --rows 3000000] [--runs 2]
// The command line's printed output against `export` on the same rows: `bundlebase query … --format
// csv > file` (and json, table) beside `bundlebase export … file.csv`, each a real CLI process
// writing to a file; best of --runs. Target: csv/json within 1.5× of export.
import { spawnSync } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { here, mb, pad, prepareData } from './common.mjs';

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const rows = Number(option('rows', '3000000'));
const runs = Number(option('runs', '2'));
const BIN = path.join(here, '..', 'dist', 'cli', 'main.js');
const out = (name) => path.join(os.tmpdir(), `bundlebase-bench-cli-${process.pid}.${name}`);

/**
 * Wall and CPU seconds (user + system, all threads) of the best of `runs` runs of the CLI with stdout
 * into `file`: on a busy machine the CPU time compares better than the wall time.
 */
function time(args, file) {
  let best = { wall: Infinity, cpu: Infinity };
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    // bash's `times` prints the CPU time of its children: user and system on the second line
    const r = spawnSync('bash', ['-c', 'node "$@" > "$OUT" || exit 1; times', 'bash', BIN, ...args], { env: { ...process.env, OUT: file }, encoding: 'utf8' });
    const wall = (performance.now() - start) / 1000;
    if (r.status !== 0) throw new Error(`bundlebase ${args.join(' ')}: ${r.stderr}`);
    const [user, system] = r.stdout.trim().split('\n').at(-1).split(/\s+/).map((t) => { const [m, s] = t.split('m'); return Number(m) * 60 + Number.parseFloat(s); });
    if (wall < best.wall) best = { wall, cpu: user + system };
  }
  return best;
}

const { bundle } = await prepareData(rows, 'parquet');
console.log(`bundlebase CLI output bench — ${new Date().toISOString()} — ${rows} generated rows (age >= 18 kept), ${os.cpus().length} CPUs, best of ${runs}`);
console.log(pad('format', 8) + pad('export', 22) + pad('query > file', 22) + pad('ratio wall/cpu', 16) + 'output');
const all = 'SELECT * FROM bundle';
for (const format of ['csv', 'json', 'table']) {
  const printed = out(`printed.${format}`);
  const exported = out(`exported.${format === 'table' ? 'csv' : format}`);
  // the table has no export of its own: it is compared with exporting CSV
  const exp = time(['export', bundle, exported], out('log'));
  const print = time(['query', bundle, all, ...(format === 'table' ? [] : ['--format', format])], printed);
  const cell = (t) => pad(`${t.wall.toFixed(2)}s (cpu ${t.cpu.toFixed(2)}s)`, 22);
  console.log(pad(format, 8) + cell(exp) + cell(print) + pad(`${(print.wall / exp.wall).toFixed(2)}× / ${(print.cpu / exp.cpu).toFixed(2)}×`, 16) + mb(statSync(printed).size));
  for (const file of [printed, exported]) rmSync(file, { force: true });
}
rmSync(out('log'), { force: true });
