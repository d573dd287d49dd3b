import { createRequire } from 'node:module';
import { DuckDBInstance } from '@duckdb/node-api';
const require = createRequire(import.meta.url);
const addon = require('./build/Release/bundlebase_arrow.node');
const b = createRequire(require.resolve('@duckdb/node-bindings'));
addon.load(b.resolve('@duckdb/node-bindings-linux-x64/libduckdb.so'));
const inst = await DuckDBInstance.create(':memory:');
const c = await inst.connect();
const sql = `SELECT * FROM read_parquet('bench/data/people-10000000.parquet') WHERE age >= 18`;
const mode = process.argv[2];
const result = await c.stream(sql);
const { converter } = addon.createConverter(c.connection, result.result);
let tf = 0, tc = 0, n = 0; const t0 = performance.now();
if (mode === 'nodeapi') {
  for (;;) { const a = performance.now(); const ch = await result.fetchChunk(); tf += performance.now() - a; if (!ch || ch.rowCount === 0) break; n++; }
} else if (mode === 'fetch-only') {
  for (;;) { const a = performance.now(); const h = await addon.fetch(result.result); tf += performance.now() - a; if (!h) break; n++; }
} else if (mode === 'serial') {
  for (;;) { let a = performance.now(); const h = await addon.fetch(result.result); tf += performance.now() - a; if (!h) break; a = performance.now(); await addon.convert(converter, h); tc += performance.now() - a; n++; }
} else {
  let next = addon.fetch(result.result);
  for (;;) { let a = performance.now(); const h = await next; tf += performance.now() - a; if (!h) break; next = addon.fetch(result.result); a = performance.now(); await addon.convert(converter, h); tc += performance.now() - a; n++; }
}
console.log(mode, 'total', (performance.now() - t0).toFixed(0), 'fetch-wait', tf.toFixed(0), 'convert-wait', tc.toFixed(0), 'chunks', n);
if (mode === 'nodeapi') {}
