import { mkdtempSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

const dirs: string[] = [];

// a trust store of this test process (and the CLI processes it starts), never the user's own
const trustDir = mkdtempSync(path.join(os.tmpdir(), 'bundlebase-trust-'));
dirs.push(trustDir);
process.env.BUNDLEBASE_TRUST_FILE = path.join(trustDir, 'trusted-sources');

after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** A fresh temp directory, removed when the test file ends. */
export async function tempDir(prefix = 'bundlebase-test-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

let fixtureConnection: Promise<DuckDBConnection> | undefined;

/** Runs SQL in a DuckDB of the test's own (used to write fixtures with COPY … TO). */
export async function duck(sql: string): Promise<void> {
  fixtureConnection ??= DuckDBInstance.create(':memory:').then((i) => i.connect());
  await (await fixtureConnection).run(sql);
}

/** Writes the rows of a SELECT to `file` in the format its extension names. */
export async function writeFixture(file: string, select: string): Promise<string> {
  const ext = path.extname(file);
  const format = ext === '.parquet' ? 'FORMAT parquet' : ext === '.csv' ? 'FORMAT csv, HEADER true' : 'FORMAT json';
  await duck(`COPY (${select}) TO '${file}' (${format})`);
  return file;
}

/** People: id 0..n-1, age = id % 90, name 'p<id>', ssn. */
export function peopleSql(n: number): string {
  return `SELECT i::INTEGER AS id, (i % 90)::INTEGER AS age, 'p' || i AS name, 'ssn-' || i AS ssn FROM range(${n}) t(i)`;
}

/** Expects `fn` to throw a BundlebaseError with `code` and a message matching `pattern`. */
export async function expectError(fn: () => unknown, code: string, pattern: RegExp): Promise<void> {
  const { default: assert } = await import('node:assert/strict');
  await assert.rejects(async () => fn(), (err: unknown) => {
    assert.equal((err as Error).name, 'BundlebaseError', `expected BundlebaseError, got ${String(err)}`);
    assert.equal((err as { code: string }).code, code, `wrong code for: ${(err as Error).message}`);
    assert.match((err as Error).message, pattern);
    return true;
  });
}

export async function collectRows(iterable: AsyncIterable<{ numRows: number }>): Promise<number> {
  let rows = 0;
  for await (const batch of iterable) rows += batch.numRows;
  return rows;
}
