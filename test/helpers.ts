import assert from 'node:assert/strict';
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

/** The rows of a query in the test's own DuckDB (values as DuckDB's JS conversion gives them). */
export async function duckRows(sql: string): Promise<Record<string, unknown>[]> {
  fixtureConnection ??= DuckDBInstance.create(':memory:').then((i) => i.connect());
  return (await (await fixtureConnection).runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
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

/**
 * Resolves with `promise`, or rejects naming `what` when it has not settled within `ms`. For
 * liveness checks ("the server still answers", "exits on SIGTERM"): the bound is generous, so a
 * slow machine never trips it, only something that hangs does.
 */
export async function within<T>(promise: Promise<T>, ms: number, what: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${typeof what === 'function' ? what() : what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Retries `attempt` until it resolves, waiting `intervalMs` between tries; rejects with the last
 * error once `timeoutMs` has passed. For waiting on an event the test cannot observe directly
 * (the server noticing closed sockets), instead of sleeping a fixed time and hoping.
 */
export async function eventually<T>(attempt: () => Promise<T>, { timeoutMs = 10_000, intervalMs = 50 } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}

/** The parsed manifest of commit `n` (1 = the first after init) of the bundle at `bundleDir`, and its text. */
export async function readCommit(bundleDir: string, n = 1): Promise<{ doc: CommitDoc; text: string; file: string }> {
  const { readdir, readFile } = await import('node:fs/promises');
  const { default: YAML } = await import('yaml');
  const meta = path.join(bundleDir, '_bundlebase');
  const prefix = String(n).padStart(5, '0');
  const name = (await readdir(meta)).find((f) => f.startsWith(prefix) && f.endsWith('.yaml'));
  if (!name) throw new Error(`no commit ${prefix} in ${meta}`);
  const text = await readFile(path.join(meta, name), 'utf8');
  return { doc: YAML.parse(text) as CommitDoc, text, file: path.join(meta, name) };
}

export interface CommitDoc {
  author?: string;
  message: string;
  timestamp: string;
  changes: { id: string; description: string; operations: ({ type: string } & Record<string, unknown>)[] }[];
}

/** Every operation of a parsed commit, in order. */
export function operationsOf(doc: CommitDoc): ({ type: string } & Record<string, unknown>)[] {
  return doc.changes.flatMap((c) => c.operations);
}

/**
 * Starts test/support/flight-reader.mjs: a separate process streaming `sql` from a Flight server.
 * Resolves once its first batch has arrived (the stream is under way), rejects if the query was
 * refused or the process ended first. The caller kills `child`.
 */
export async function startFlightReader(port: number, password: string, sql: string): Promise<import('node:child_process').ChildProcess> {
  const { spawn } = await import('node:child_process');
  const script = path.resolve(path.dirname(new URL(import.meta.url).pathname), 'support/flight-reader.mjs');
  const child = spawn(process.execPath, [script, String(port), password, sql], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const started = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (/^streaming$/m.test(out)) resolve();
      else if (/^FAILED/m.test(out)) reject(new Error(`the Flight reader's query failed: ${out.trim()}`));
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`the Flight reader exited (${code}) before streaming: ${out.trim()}`)));
  });
  try {
    await within(started, 30_000, () => `the Flight reader streaming (${out.trim()})`);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return child;
}

/** Runs the built `bundlebase` command with extra environment (in `cwd`); never throws: exit code and output. */
export async function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [path.resolve('dist/cli/main.js'), ...args], { cwd, env: { ...process.env, BUNDLEBASE_AUTHOR: 'cli-test', ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
