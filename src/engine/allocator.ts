/**
 * Loads DuckDB's library with allocator settings made for streaming. Every engine module that
 * imports DuckDB imports this first: DuckDB's own jemalloc reads its settings once, when the
 * library loads, from `DUCKDB_JE_MALLOC_CONF`.
 *
 * Why (docs/performance.md, "DuckDB's allocator"): a Parquet scan frees and allocates
 * its decompression buffers all the time, and DuckDB's defaults (one arena per CPU, freed pages
 * kept dirty for 1 s and then only lazily freed, which Linux still counts as resident) hold that
 * churn: raw DuckDB grows 125–183 MB over 10 M rows. One arena per 4 CPUs, dirty pages returned
 * within 250 ms and no lazy stage keep it under 100 MB at no measured cost in time.
 *
 * A user's own `DUCKDB_JE_MALLOC_CONF` wins; so does a DuckDB library loaded before bundlebase.
 * The variable is removed again so that processes started later do not inherit it. In a worker
 * thread `process.env` is the thread's own copy, which native code cannot see: there DuckDB
 * keeps its defaults unless the main thread loaded it first (README).
 */
import { createRequire } from 'node:module';
import os from 'node:os';

const VARIABLE = 'DUCKDB_JE_MALLOC_CONF';

/** The jemalloc settings bundlebase loads DuckDB with on a machine of `cpus` CPUs. */
export function allocatorSettings(cpus: number): string {
  const arenas = Math.max(1, Math.floor(cpus / 4));
  return `narenas:${arenas},dirty_decay_ms:250,muzzy_decay_ms:0`;
}

const users = process.env[VARIABLE];
if (users === undefined) process.env[VARIABLE] = allocatorSettings(os.availableParallelism());
try {
  createRequire(import.meta.url)('@duckdb/node-bindings');
} finally {
  if (users === undefined) delete process.env[VARIABLE];
}
