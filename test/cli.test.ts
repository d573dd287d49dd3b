import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { readFile, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { before, describe, it } from 'node:test';
import { open } from '../src/index.js';
import { peopleSql, runCli, tempDir, writeFixture } from './helpers.js';

const BIN = path.resolve('dist/cli/main.js');
const execFileAsync = promisify(execFile);

const cli = (...args: string[]) => runCli(args);

let dir: string;
let parquet: string;
let csv: string;

before(async () => {
  dir = await tempDir();
  parquet = await writeFixture(path.join(dir, 'people.parquet'), peopleSql(1000));
  csv = await writeFixture(path.join(dir, 'regions.csv'), `SELECT i AS age, 'region-' || (i % 3) AS region FROM range(90) t(i)`);
});

describe('bundlebase command line', () => {
  it('round trip: create → attach → filter → commit → history → query', async () => {
    const b = path.join(dir, 'round');
    assert.equal((await cli('create', b)).code, 0);
    const attached = await cli('attach', b, parquet);
    assert.equal(attached.code, 0);
    assert.match(attached.stdout, /Attach .*people\.parquet \(1 uncommitted change/);
    assert.equal((await cli('filter', b, 'age >= $1', '-p', '80')).code, 0);
    assert.equal((await cli('remove-column', b, 'ssn')).code, 0);
    assert.equal((await cli('rename-column', b, 'name', 'first_name')).code, 0);
    const status = await cli('status', b);
    assert.match(status.stdout, /4 uncommitted change\(s\), 5 operation\(s\)/);
    assert.match(status.stdout, /3\. Remove column ssn/);
    const committed = await cli('commit', b, '-m', 'adults only');
    assert.equal(committed.code, 0);
    assert.match(committed.stdout, /Committed [0-9a-f]{12}: adults only/);
    assert.match((await cli('status', b)).stdout, /No uncommitted changes/);
    const history = await cli('history', b, '--format', 'json');
    const commits = history.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(commits.length, 1);
    assert.equal(commits[0].message, 'adults only');
    assert.equal(commits[0].author, 'cli-test');
    const query = await cli('query', b, 'SELECT count(*) AS n, min(age) AS lo FROM bundle', '--format', 'json');
    assert.deepEqual(JSON.parse(query.stdout), { n: 110, lo: 80 });
    // the library sees exactly what the CLI committed
    const r = await open(b);
    assert.deepEqual((await r.schema()).fields.map((f) => f.name), ['id', 'age', 'first_name']);
    await r.close();
  });

  it('count prints the bare number; schema, show, explain and export work', async () => {
    const b = path.join(dir, 'reads');
    await cli('create', b);
    await cli('attach', b, parquet);
    await cli('join', b, 'regions', csv, '$base.age = regions.age', '--how', 'left');
    await cli('commit', b, '-m', 'joined');
    assert.equal((await cli('count', b)).stdout, '1000\n');
    const schema = await cli('schema', b, '--format', 'csv');
    assert.equal(schema.stdout, 'column,type,nullable\nid,Int32,true\nage,Int32,true\nname,Utf8,true\nssn,Utf8,true\nage_1,Int64,true\nregion,Utf8,true\n');
    const show = await cli('show', b, '-n', '3');
    const lines = show.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 5, 'header, rule and 3 rows');
    assert.match(lines[0]!, /^id\s+│ age\s+│ name/);
    assert.match(show.stderr, /\(3 rows, [\d.]+ s\)/);
    assert.match((await cli('explain', b)).stdout, /READ_PARQUET/);
    const out = path.join(dir, 'exported.csv');
    const exported = await cli('export', b, out);
    assert.match(exported.stdout, /Exported 1000 rows/);
    assert.equal(exported.stderr, '', 'no progress bar on a pipe');
    assert.equal((await readFile(out, 'utf8')).trim().split('\n').length, 1001);
  });

  it('query --format csv streams everything to a pipe', async () => {
    const big = await writeFixture(path.join(dir, 'big.parquet'), peopleSql(300_000));
    const b = path.join(dir, 'pipe');
    await cli('create', b);
    await cli('attach', b, big);
    await cli('commit', b, '-m', 'big');
    const child = spawn(process.execPath, [BIN, 'query', b, 'SELECT id, name FROM bundle', '--format', 'csv'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let lines = 0;
    let bytes = 0;
    let last = '';
    child.stdout.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      const text = last + chunk.toString();
      const parts = text.split('\n');
      last = parts.pop()!;
      lines += parts.length;
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0);
    assert.equal(lines, 300_001);
    assert.ok(bytes > 3_000_000);
  });

  it('undo, reset and the staged file', async () => {
    const b = path.join(dir, 'staging');
    await cli('create', b);
    await cli('attach', b, parquet);
    await cli('set-name', b, 'People');
    await cli('set-description', b, 'Everyone');
    assert.match((await cli('undo', b)).stdout, /Undid: Set description to Everyone/);
    assert.match((await cli('status', b)).stdout, /2 uncommitted change/);
    await stat(path.join(b, '.bundlebase-staged.yaml'));
    assert.match((await cli('reset', b)).stdout, /Dropped 2 uncommitted change/);
    await assert.rejects(stat(path.join(b, '.bundlebase-staged.yaml')), (e: { code?: string }) => e.code === 'ENOENT', 'reset removed the staged file');
    assert.match((await cli('status', b)).stdout, /No uncommitted changes/);
  });

  it('create-index and create-view', async () => {
    const b = path.join(dir, 'index-view');
    await cli('create', b);
    await cli('attach', b, csv);
    assert.match((await cli('create-index', b, 'age')).stdout, /Create index on age/);
    assert.match((await cli('create-view', b, 'north', 'SELECT * FROM bundle WHERE region = $1', '-p', 'region-0')).stdout, /Create view north/);
    await cli('commit', b, '-m', 'index and view');
    const r = await open(b);
    assert.equal(await (await r.view('north')).numRows(), 30);
    assert.deepEqual(r.operations().map((o) => o.type).slice(-3), ['createIndex', 'indexBlocks', 'createView']);
    await r.close();
    // the view is a table by its name in query
    assert.equal((await cli('query', b, 'SELECT count(*) AS n FROM north', '-f', 'csv')).stdout, 'n\n30\n');
  });

  it('errors: one clear line, exit 1 for user errors and 2 for usage, nothing written', async () => {
    const b = path.join(dir, 'errors');
    await cli('create', b);
    await cli('attach', b, parquet);
    await cli('commit', b, '-m', 'base');
    const cases: [string[], number, RegExp][] = [
      [['count', path.join(dir, 'missing')], 1, /^error: Bundle not found at .*missing\n$/],
      [['filter', b, 'nope > 1'], 1, /^error: .*"nope" not found.*\n$/],
      [['query', b, 'SELEKT 1'], 1, /^error: .*SELEKT.*\n$/],
      [['remove-column', b, 'nope'], 1, /^error: .*'nope' not found.*\n$/],
      [['attach', b, path.join(dir, 'nope.csv')], 1, /^error: .*nope\.csv.*\n$/],
      [['frobnicate'], 2, /unknown command 'frobnicate'/],
      [['commit', b], 2, /required option/],
      [['show', b, '--format', 'xml'], 2, /xml/],
    ];
    for (const [args, code, pattern] of cases) {
      const result = await cli(...args);
      assert.equal(result.code, code, `${args.join(' ')} → ${result.stderr}`);
      assert.match(result.stderr, pattern);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    }
    assert.match((await cli('status', b)).stdout, /No uncommitted changes/);
    assert.equal((await cli('count', b)).stdout, '1000\n');
  });

  it('--help on every command', async () => {
    for (const command of ['create', 'attach', 'filter', 'query', 'export', 'repl']) {
      const help = await cli(command, '--help');
      assert.equal(help.code, 0);
      assert.match(help.stdout, new RegExp(`Usage: bundlebase ${command}`));
    }
  });

  it('the REPL runs commands and SQL, reports an error and goes on, and stages changes on EXIT', async () => {
    const b = path.join(dir, 'repl');
    await cli('create', b);
    await cli('attach', b, parquet);
    await cli('commit', b, '-m', 'base');
    const child = spawn(process.execPath, [BIN, 'repl', b], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, BUNDLEBASE_HISTORY: path.join(dir, 'history') } });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stdin.end(['SCHEMA', 'SELECT count(*) AS n FROM bundle', 'FILTER age < 10', 'COUNT', 'SELEKT oops', 'SHOW 2', 'STATUS', 'EXIT', ''].join('\n'));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0);
    assert.match(output, /column\s+│ type\s+│ nullable/);
    assert.match(output, /\n1000\s*\n/);
    assert.match(output, /Filter age < 10/);
    assert.match(output, /> 120\n/);
    assert.match(output, /error: .*SELEKT/);
    assert.match(output, /\(2 rows, /);
    assert.match(output, /1 uncommitted change/);
    assert.match((await cli('status', b)).stdout, /1\. Filter age < 10/);
    assert.match(await readFile(path.join(dir, 'history'), 'utf8'), /FILTER age < 10/);
  });
});

describe('the REPL in a terminal', () => {
  const python = (() => {
    try {
      return execFileSync('python3', ['--version']) && 'python3';
    } catch {
      return undefined;
    }
  })();

  it('Ctrl-C cancels the running query, not the REPL', { skip: python ? false : 'python3 (for its pty module) is not installed', timeout: 60_000 }, async () => {
    const b = path.join(dir, 'repl-pty');
    await cli('create', b);
    await cli('attach', b, parquet);
    await cli('commit', b, '-m', 'base');
    const { stdout } = await execFileAsync('python3', [path.resolve('test/support/pty-repl.py'), BIN, b], { timeout: 50_000 });
    assert.match(stdout, /Cancelled/);
    assert.doesNotMatch(stdout, /Interrupted/);
    assert.match(stdout, /\b1000\r?\n/, 'the next command ran');
    assert.match(stdout, /EXIT_STATUS=0/);
  });
});
