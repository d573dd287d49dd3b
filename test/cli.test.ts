import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readFile, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { before, describe, it } from 'node:test';
import { create, open } from '../src/index.js';
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

  it('a command stopped by a signal exits as the signal would, leaving nothing in the temp directory', async () => {
    const tmp = await tempDir();
    const b = path.join(dir, 'signalled');
    const builder = await create(b).attach(await writeFixture(path.join(dir, 'signalled.parquet'), peopleSql(100_000)));
    await builder.commit('rows');
    await builder.close();
    const child = spawn(process.execPath, [BIN, 'query', b, 'SELECT id, name FROM bundle', '--format', 'csv'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: tmp } });
    // mid-stream: its first rows are out, the rest wait on this pipe, unread until the signal is sent
    await new Promise((resolve) => child.stdout.once('data', resolve));
    child.stdout.pause();
    assert.ok(readdirSync(tmp).some((name) => name.startsWith('bundlebase-')), 'its private temp directory exists while it runs');
    child.kill('SIGTERM');
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 128 + os.constants.signals.SIGTERM);
    assert.deepEqual(readdirSync(tmp), []);
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
    await cli('attach', b, csv, '--save-as', 'ref'); // indexes narrow CSV read in place
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
    child.stdin.end(['SHOW SCHEMA', 'SELECT count(*) AS n FROM bundle;', 'FILTER WHERE age < 10;', 'SHOW COUNT;', 'SELEKT oops;', 'SELECT * FROM bundle LIMIT 2;', 'SHOW STATUS', 'EXIT', ''].join('\n'));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0);
    assert.match(output, /column\s+│ type\s+│ nullable/);
    assert.match(output, /\n1000\s*\n/);
    assert.match(output, /Filter age < 10/);
    assert.match(output, /\n *120\n/);
    assert.match(output, /error: .*SELEKT/);
    assert.match(output, /\(2 rows, /);
    assert.match(output, /1\s+│ Filter age < 10/);
    assert.match((await cli('status', b)).stdout, /1\. Filter age < 10/);
    assert.match(await readFile(path.join(dir, 'history'), 'utf8'), /FILTER WHERE age < 10;/);
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
  const skip = python ? false : 'python3 (for its pty module) is not installed';
  const PROMPT = 'bundlebase> ';
  const CONTINUATION = '        -> ';

  interface Step {
    send?: string;
    until?: string;
    seconds?: number;
    repeat?: number;
  }
  /** Runs the steps in `bundlebase repl <bundle>` on a pseudo-terminal: what each printed, and the exit status. */
  async function inTerminal(bundle: string, steps: Step[]): Promise<{ steps: string[]; exit: number }> {
    const env = { ...process.env, BUNDLEBASE_HISTORY: path.join(dir, `history-${path.basename(bundle)}`) };
    const { stdout } = await execFileAsync('python3', [path.resolve('test/support/pty-repl.py'), BIN, bundle, JSON.stringify(steps)], { timeout: 100_000, env });
    return JSON.parse(stdout) as { steps: string[]; exit: number };
  }
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const step = (send: string, until: string | RegExp = PROMPT): Step => ({ send, until: typeof until === 'string' ? escape(until) : until.source });

  it('Ctrl-C cancels the running query, not the REPL', { skip, timeout: 120_000 }, async () => {
    const b = path.join(dir, 'repl-pty');
    await cli('create', b);
    await cli('attach', b, parquet);
    await cli('commit', b, '-m', 'base');
    const run = await inTerminal(b, [
      { until: PROMPT },
      { send: 'SELECT sum(i % 7) AS s FROM range(100000000000) t(i);\r' },
      { send: '\x03', until: 'Cancelled', repeat: 0.5 },
      { until: `Cancelled[\\s\\S]*${PROMPT}`, seconds: 10 },
      step('SHOW COUNT\r', /\b1000\r?\n/),
      { send: 'EXIT\r' },
    ]);
    const stdout = run.steps.join('');
    assert.match(stdout, /Cancelled/);
    assert.doesNotMatch(stdout, /Interrupted/);
    assert.match(run.steps[4]!, /\b1000\r?\n/, 'the next command ran');
    assert.equal(run.exit, 0);
  });

  describe('statements over lines, and Tab', { skip }, () => {
    let run: { steps: string[]; exit: number };
    before(async () => {
      const regions = await writeFixture(path.join(dir, 'sales.csv'), `SELECT i AS id, ['north', 'south', 'east', 'west'][i % 4 + 1] AS "Sales Region", i * 10 AS amount FROM range(40) t(i)`);
      const b = path.join(dir, 'repl-lines');
      await cli('create', b);
      await cli('attach', b, regions);
      await cli('create-view', b, 'by_region', 'SELECT "Sales Region", sum(amount) AS total FROM bundle GROUP BY 1');
      await cli('commit', b, '-m', 'sales');
      run = await inTerminal(b, [
        { until: PROMPT },
        step('SELECT count(*) * 1001 AS n\r', CONTINUATION), // 1
        step('FROM bundle;\r', /40040[\s\S]*bundlebase> /),
        step('\x1b[A', 'SELECT count(*) * 1001 AS n FROM bundle;'), // 3: the whole statement back from history
        step('\r', /40040[\s\S]*bundlebase> /),
        step("SELECT 'semi;colon' AS s, -- no end ; here\r", CONTINUATION), // 5
        step("'x;' AS t;\r", /semi;colon[\s\S]*bundlebase> /),
        step("SELECT 6 * 7 AS answer; SELECT 'second' || 'one' AS y;\r", /secondone[\s\S]*bundlebase> /), // 7
        step('SELECT 1000 +\r', CONTINUATION), // 8
        step('234 AS total\r', CONTINUATION),
        step('\r', /1234[\s\S]*bundlebase> /),
        step('SELECT count(DISTINCT Sa\t', '"Sales Region"'), // 11
        step(') * 111 AS regions FROM bundle;\r', /444[\s\S]*bundlebase> /),
        step('SELECT max("Sa\t', '"Sales Region"'), // 13
        step(') AS top FROM bundle;\r', /west[\s\S]*bundlebase> /),
        step('sel\t', 'select'), // 15
        step(' count(*) * 7 AS v FROM by_\t', 'by_region'),
        step(';\r', /28[\s\S]*bundlebase> /),
        step("SELECT 'dropped'\r", CONTINUATION), // 18
        step('\x03', PROMPT),
        step("SELECT 'kept' AS k;\r", /kept[\s\S]*bundlebase> /),
        step('SHOW COUNT; SHOW STATUS;\r', /change[\s\S]*bundlebase> /), // 21
        step("COMMIT 'counted';\r", /Committed|error/),
        { send: 'EXIT\r' },
      ]);
    });

    it('a query over two lines runs once it ends with ";"', () => {
      assert.match(run.steps[1]!, new RegExp(escape(CONTINUATION)), 'the continuation prompt');
      assert.doesNotMatch(run.steps[1]!, /error/);
      assert.match(run.steps[2]!, /40040/);
    });

    it('history keeps the whole statement', () => {
      assert.match(run.steps[3]!, /SELECT count\(\*\) \* 1001 AS n FROM bundle;/);
      assert.match(run.steps[4]!, /40040/);
    });

    it('";" inside a string literal or a comment does not end the statement', () => {
      assert.doesNotMatch(run.steps[5]!, /error/);
      assert.match(run.steps[6]!, /semi;colon/);
      assert.match(run.steps[6]!, /x;/);
    });

    it('two statements on one line run in order', () => {
      const [first, second] = [run.steps[7]!.indexOf('42'), run.steps[7]!.indexOf('secondone')];
      assert.ok(first > 0 && second > first, run.steps[7]);
    });

    it('a blank line ends a statement', () => {
      assert.doesNotMatch(run.steps[8]! + run.steps[9]!, /error|1234/);
      assert.match(run.steps[10]!, /1234/);
    });

    it('Tab quotes a column name with a space', () => {
      assert.match(run.steps[11]!, /count\(DISTINCT "Sales Region"/);
      assert.match(run.steps[12]!, /444/, 'the completed query ran');
    });

    it('Tab completes inside an open "', () => {
      assert.match(run.steps[13]!, /max\("Sales Region"/);
      assert.match(run.steps[14]!, /west/);
    });

    it('Tab completes keywords in any case and view names', () => {
      assert.match(run.steps[15]!, /select/);
      assert.match(run.steps[16]!, /by_region/);
      assert.match(run.steps[17]!, /\b28\b/);
    });

    it('Ctrl-C drops the statement being typed', () => {
      assert.match(run.steps[18]!, new RegExp(escape(CONTINUATION)), 'waits for the end of the statement');
      assert.doesNotMatch(run.steps[18]! + run.steps[19]!, /\ndropped/, 'did not run it');
      assert.match(run.steps[20]!, /kept/);
      assert.doesNotMatch(run.steps[20]!, /error|dropped/);
    });

    it('commands share a line and take a trailing ";"', () => {
      assert.match(run.steps[21]!, /\n *40\r?\n[\s\S]*change │ description/);
      assert.match(run.steps[22]!, /Committed [0-9a-f]{12}/);
      assert.equal(run.exit, 0);
    });
  });
});
