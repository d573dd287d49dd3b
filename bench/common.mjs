// Shared by the benches: generated data (cached in bench/data) and running one case per process.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { create } from '../dist/index.js';
// after bundlebase: DuckDB's library loads with bundlebase's allocator settings (src/engine/allocator.ts)
import { DuckDBInstance } from '@duckdb/node-api';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const dataDir = path.join(here, 'data');

/** 10 columns like DESIGN §5: 3 BIGINT, 4 VARCHAR (one long), DOUBLE, TIMESTAMP, BOOLEAN. */
export const GENERATOR_SQL = (rows) => `
  SELECT i AS id, i % 90 AS age, (i * 7) % 1000 AS score,
         'first' || (i % 1000) AS first_name, 'last' || (i % 5000) AS last_name,
         'user.' || i || '@example-mail.org' AS email, 'city' || (i % 300) AS city,
         (i % 10000) / 7.0 AS balance, TIMESTAMP '2020-01-01' + to_seconds(i) AS created,
         i % 3 = 0 AS active
  FROM range(${rows}) t(i)`;

const COPY_FORMAT = { parquet: 'FORMAT parquet', csv: 'FORMAT csv, HEADER true', json: 'FORMAT json' };

/** A generated file of `rows` rows and a committed bundle reading it in place, filtered on age >= 18. */
export async function prepareData(rows, format) {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, `people-${rows}.${format}`);
  const bundle = path.join(dataDir, `bundle-${rows}-${format}`);
  if (!existsSync(file)) {
    const connection = await (await DuckDBInstance.create(':memory:')).connect();
    await connection.run(`COPY (${GENERATOR_SQL(rows)}) TO '${file}' (${COPY_FORMAT[format]})`);
    connection.closeSync();
  }
  if (!existsSync(bundle)) {
    // read in place, so ours and raw DuckDB read the same file
    const b = await create(bundle).attach(file, { saveAs: 'ref' }).filter('age >= $1', [18]);
    await b.commit(`bench ${rows} ${format}`);
    await b.close();
  }
  return { file, bundle, bytes: statSync(file).size };
}

/** Runs one case of case.mjs in a process of its own (so peak RSS is the case's) and returns its figures. */
export function runCase(kind, args, env = {}) {
  const out = execFileSync(process.execPath, ['--expose-gc', path.join(here, 'case.mjs'), kind, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split('\n').at(-1));
}

export const mb = (bytes) => `${(bytes / 1e6).toFixed(0)} MB`;
export const pad = (s, n) => String(s).padEnd(n);
