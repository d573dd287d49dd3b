import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { create } from '../src/index.js';
import { expectError, runCli, tempDir, writeFixture } from './helpers.js';

let dir: string;
let people: string;
let bundle: string;

before(async () => {
  dir = await tempDir();
  people = await writeFixture(path.join(dir, 'people.parquet'), `SELECT i::INTEGER AS age, 'n' || i AS name, (i * 1000000000)::VARCHAR AS phone FROM range(50) t(i)`);
  bundle = path.join(dir, 'people');
  const b = await create(bundle).attach(people);
  await b.commit('people');
  await b.close();
});

describe('-p values are typed by where $n is used', () => {
  it('text stays text (leading zeros kept), a VARCHAR column compares with a long number, an untyped $1 works', async () => {
    const r = await runCli(['query', bundle, 'SELECT $1::VARCHAR AS v, $2 AS x', '-p', '007', '-p', '5', '-f', 'csv']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'v,x\n007,5\n');
    const phone = await runCli(['query', bundle, 'SELECT count(*) AS n FROM bundle WHERE phone = $1', '-p', '5000000000', '-f', 'csv']);
    assert.equal(phone.stdout, 'n\n1\n', phone.stderr);
    const age = await runCli(['query', bundle, 'SELECT count(*) AS n FROM bundle WHERE age >= $1', '-p', '18', '-f', 'csv']);
    assert.equal(age.stdout, 'n\n32\n', age.stderr);
  });

  it('20-digit values stay exact, --param-type overrides, a value that does not fit names itself', async () => {
    const big = await runCli(['query', bundle, 'SELECT ($1::HUGEINT - 1)::VARCHAR AS h', '-p', '123456789012345678901', '-f', 'csv']);
    assert.equal(big.stdout, 'h\n123456789012345678900\n', big.stderr);
    const typed = await runCli(['query', bundle, 'SELECT $1 + 1 AS n', '-p', '41', '--param-type', 'integer', '-f', 'csv']);
    assert.equal(typed.stdout, 'n\n42\n', typed.stderr);
    const wrong = await runCli(['query', bundle, 'SELECT 1 AS x', '-p', 'abc', '--param-type', 'integer']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /'abc' is not an integer/);
    const bad = await runCli(['query', bundle, 'SELECT count(*) FROM bundle WHERE age >= $1', '-p', 'abc']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /'abc'/);
  });
});

describe('the command line ends and refuses cleanly', () => {
  it('output into a pipe that closes early (| head) ends quietly with exit 0', async () => {
    for (const format of ['csv', 'json', 'table']) {
      const child = spawn(process.execPath, [path.resolve('dist/cli/main.js'), 'query', bundle, 'SELECT * FROM bundle, range(20000) t(j)', '-f', format], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.stdout.once('data', () => child.stdout.destroy()); // the reader goes away after its first chunk
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(code, 0, `${format}: ${stderr}`);
      assert.doesNotMatch(stderr, /EPIPE|Error|at /, format);
    }
  });

  it('show -n takes only a positive whole number', async () => {
    for (const n of ['abc', '-5', '0', '2.5']) {
      const r = await runCli(['show', bundle, '-n', n]);
      assert.equal(r.code, 2, n);
      assert.match(r.stderr, /not a positive whole number/);
    }
  });

  it('filter and query on a bundle without sources say so instead of printing "(0 rows)"', async () => {
    const empty = path.join(dir, 'empty');
    assert.equal((await runCli(['create', empty])).code, 0);
    const filter = await runCli(['filter', empty, 'x > 1']);
    assert.equal(filter.code, 1);
    assert.match(filter.stderr, /no sources to filter: attach one first/);
    const query = await runCli(['query', empty, 'SELEC 1']);
    assert.equal(query.code, 1);
    assert.match(query.stderr, /no sources/);
    // nothing was staged: a later attach still works
    assert.equal((await runCli(['attach', empty, people])).code, 0);
  });

  it('export refuses a file name whose format it cannot tell, instead of writing Parquet into it', async () => {
    const r = await runCli(['export', bundle, path.join(dir, 'out.txt')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /out\.txt.*\.parquet, \.csv or \.json/);
    const ok = await runCli(['export', bundle, path.join(dir, 'out.txt'), '--format', 'csv']);
    assert.equal(ok.code, 0, ok.stderr);
  });
});

describe('footguns the library refuses', () => {
  it('attaching the same file twice', async () => {
    const b = await create().attach(people);
    await expectError(() => b.attach(people), 'INVALID_ARGUMENT', /already attached.*double its rows/);
    assert.equal(await b.numRows(), 50);
    await b.close();
  });

  it('a format that contradicts the file name', async () => {
    const json = await writeFixture(path.join(dir, 'x.json'), 'SELECT 1 AS a');
    await expectError(() => create().attach(json, { format: 'csv' }), 'INVALID_ARGUMENT', /x\.json' is named like json but format 'csv'/);
  });

  it('an empty commit message', async () => {
    const b = await create(path.join(dir, 'msg')).attach(people);
    for (const message of ['', '   ']) await expectError(() => b.commit(message), 'INVALID_ARGUMENT', /non-empty/);
    await b.close();
  });
});

describe('values come out exactly, the same everywhere', () => {
  const SQL = `SELECT INTERVAL 3 DAY AS i, TIME '01:02:03.25' AS t, TIMETZ '12:00:00+02' AS tz,
    99999999999999999.99::DECIMAL(38,2) AS d, 1.5::DECIMAL(9,2) AS small, 123456789012345678901::HUGEINT AS h,
    DATE '2021-04-23' AS day, MAP {'a': 1} AS m FROM bundle LIMIT 1`;

  for (const conversion of ['native', 'js'] as const) {
    it(`toObjects (${conversion} conversion)`, async () => {
      const previous = process.env.BUNDLEBASE_CONVERSION;
      if (conversion === 'js') process.env.BUNDLEBASE_CONVERSION = 'js';
      try {
        const b = await create().attach(people);
        const s = await b.select(SQL);
        const [row] = await s.toObjects();
        assert.deepEqual({ ...row, day: undefined }, {
          i: '3 days', t: '01:02:03.25', tz: '12:00:00+02', d: '99999999999999999.99', small: 1.5,
          h: 123456789012345678901n, day: undefined, m: "{'a': 1}",
        });
        assert.ok(row!.day instanceof Date && row!.day.toISOString() === '2021-04-23T00:00:00.000Z');
        await Promise.all([s.close(), b.close()]);
      } finally {
        if (previous === undefined) delete process.env.BUNDLEBASE_CONVERSION;
        else process.env.BUNDLEBASE_CONVERSION = previous;
      }
    });
  }

  it('the command line prints them the same in csv, json and table, dates as dates', async () => {
    const csv = await runCli(['query', bundle, SQL, '-f', 'csv']);
    assert.equal(csv.code, 0, csv.stderr);
    // DuckDB's own text, as export writes it (a DECIMAL(9,2) keeps its scale; a MAP as DuckDB casts it)
    assert.equal(csv.stdout.split('\n')[1], `3 days,01:02:03.25,12:00:00+02,99999999999999999.99,1.50,123456789012345678901,2021-04-23,{a=1}`);
    const json = JSON.parse((await runCli(['query', bundle, SQL, '-f', 'json'])).stdout.split('\n')[0]!);
    assert.equal(json.day, '2021-04-23');
    assert.equal(json.d, '99999999999999999.99');
    const table = await runCli(['query', bundle, SQL]);
    assert.match(table.stdout, /3 days .*01:02:03\.25 .*2021-04-23/);
  });

  it('the PostgreSQL wire sends the same text', async () => {
    const { serve } = await import('../src/index.js');
    const { default: pg } = await import('pg');
    const servers = await serve(bundle, { pgPort: 0 });
    const client = new pg.Client({ host: '127.0.0.1', port: servers.pgPort, user: 'u' });
    try {
      await client.connect();
      const { rows } = await client.query({ text: SQL, rowMode: 'array', types: { getTypeParser: () => (v: string) => v } as never });
      assert.deepEqual(rows[0]!.slice(0, 4), ['3 days', '01:02:03.25', '12:00:00+02', '99999999999999999.99']);
    } finally {
      await client.end();
      await servers.close();
    }
  });
});

describe('commands that were missing', () => {
  it('--at reads an older version; diff; set-config; rename-view and drop-view; index commands', async () => {
    const b = path.join(dir, 'versions');
    const csv = await writeFixture(path.join(dir, 'v.csv'), 'SELECT i AS id, i % 3 AS k FROM range(30) t(i)');
    const ok = async (...args: string[]) => {
      const r = await runCli(args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    await ok('create', b);
    await ok('attach', b, csv);
    await ok('commit', b, '-m', 'one');
    await ok('remove-column', b, 'k');
    await ok('filter', b, 'id < $1', '-p', '10');
    await ok('commit', b, '-m', 'two');
    assert.equal((await ok('count', b)).trim(), '10');
    assert.equal((await ok('count', b, '--at', '1')).trim(), '30');
    assert.match(await ok('schema', b, '--at', '1', '-f', 'csv'), /^k,/m);
    assert.equal(await ok('query', b, 'SELECT count(*) AS n FROM bundle', '--at', '1', '-f', 'csv'), 'n\n30\n');
    const diff = await ok('diff', b, '1');
    assert.match(diff, /\+ \w{12} two \(Remove column k; Filter id < \$1\)/);
    assert.match(diff, /column removed: k/);
    await ok('set-config', b, 'region', 'eu');
    await ok('create-view', b, 'small', 'SELECT * FROM bundle WHERE id < 3');
    await ok('create-index', b, 'id');
    await ok('commit', b, '-m', 'three');
    await ok('rename-view', b, 'small', 'tiny');
    await ok('rebuild-index', b, 'id');
    await ok('reindex', b);
    await ok('drop-index', b, 'id');
    await ok('drop-view', b, 'tiny');
    await ok('commit', b, '-m', 'four');
    const { open } = await import('../src/index.js');
    const opened = await open(b);
    assert.equal(opened.config.get('region')?.value, 'eu');
    assert.equal(opened.views().size, 0);
    assert.deepEqual(opened.history().at(-1)!.changes.map((c) => c.description), ['Rename view small to tiny', 'Rebuild index on id', 'Reindex', 'Drop index on id', 'Drop view tiny']);
    await opened.close();
    const missing = await runCli(['count', b, '--at', '99']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Version '99' not found/);
  });
});

describe('query --format csv / json print what export writes', () => {
  it('byte for byte: NULLs, empty text, quotes, commas, line breaks, unicode, timestamps, lists, big numbers', async () => {
    const mixed = path.join(dir, 'mixed');
    const rows = await writeFixture(path.join(dir, 'mixed.parquet'), `SELECT i AS id, CASE i % 5 WHEN 0 THEN NULL WHEN 1 THEN '' WHEN 2 THEN 'say "hi", ok' WHEN 3 THEN E'two\nlines' ELSE 'ünïcode' END AS note,
      TIMESTAMP '2021-04-23 10:00:00' + INTERVAL (i) MINUTE AS at, DATE '2021-04-23' AS day, [i, i + 1] AS pair, i / 3 AS ratio,
      (i * 123456789012345)::DECIMAL(38,0) * 1000000 AS huge FROM range(3000) t(i)`);
    const b = await create(mixed).attach(rows);
    await b.commit('mixed');
    await b.close();
    const { readFile } = await import('node:fs/promises');
    for (const format of ['csv', 'json']) {
      const file = path.join(dir, `mixed.${format}`);
      assert.equal((await runCli(['export', mixed, file])).code, 0);
      const printed = await runCli(['query', mixed, 'SELECT * FROM bundle', '-f', format]);
      assert.equal(printed.code, 0, printed.stderr);
      // the one difference on purpose: JSON numbers a reader's double would round come as exact text
      const exported = (await readFile(file, 'utf8')).replace(/"huge":(\d+)/g, (m, d: string) => (Number.isSafeInteger(Number(d)) ? m : `"huge":"${d}"`));
      assert.equal(printed.stdout, exported, format);
    }
  });
});

describe('the table printer', () => {
  it('fits COLUMNS by cutting text first, never a number, and right-aligns numbers', async () => {
    const r = await runCli(['query', bundle, "SELECT repeat('long text ', 10) AS note, 1234567890123::BIGINT AS big, age FROM bundle WHERE age < 3"], { COLUMNS: '60' });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.ok(lines.every((l) => l.length <= 60), `fits 60 columns:\n${r.stdout}`);
    assert.match(lines[2]!, /^long text .*… │ 1234567890123 │    0$/);
  });

  it('measures widths on the first 1,000 rows, not the first batch', async () => {
    // UNION ALL hands out its parts as batches of their own: one short row, then long ones
    const r = await runCli(['query', bundle, "SELECT 'x' AS t UNION ALL SELECT repeat('y', 30) FROM range(5)"]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes('y'.repeat(30)), r.stdout);
  });

  it('-x prints one block per row, values whole', async () => {
    const r = await runCli(['query', bundle, "SELECT age, repeat('long text ', 20) AS note FROM bundle WHERE age < 2 ORDER BY age", '-x'], { COLUMNS: '40' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `-[ RECORD 1 ]\nage  │ 0\nnote │ ${'long text '.repeat(20).trimEnd()}\n-[ RECORD 2 ]\nage  │ 1\nnote │ ${'long text '.repeat(20).trimEnd()}\n`);
  });

  it('history wraps long messages instead of cutting them', async () => {
    const b = path.join(dir, 'long-message');
    const message = 'a commit message long enough that a narrow terminal cannot hold it on one line';
    assert.equal((await runCli(['create', b])).code, 0);
    assert.equal((await runCli(['attach', b, people])).code, 0);
    assert.equal((await runCli(['commit', b, '-m', message])).code, 0);
    const r = await runCli(['history', b], { COLUMNS: '80' });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.ok(lines.every((l) => l.length <= 80), r.stdout);
    assert.doesNotMatch(r.stdout, /…/);
    const cells = lines.slice(2).map((l) => l.split('│')[3]!.trim()).filter(Boolean);
    assert.equal(cells.join(' '), message);
  });
});

describe('a file given where a bundle is expected', () => {
  it('says so instead of a raw ENOTDIR', async () => {
    const r = await runCli(['count', people]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /people\.parquet is a file, not a bundle/);
    assert.doesNotMatch(r.stderr, /ENOTDIR/);
  });
});

describe('status', () => {
  it('shows what each $n stands for', async () => {
    const b = path.join(dir, 'status');
    assert.equal((await runCli(['create', b])).code, 0);
    assert.equal((await runCli(['attach', b, people])).code, 0);
    assert.equal((await runCli(['filter', b, 'age > $1 AND name <> $2', '-p', '3', '-p', 'n5'])).code, 0);
    const r = await runCli(['status', b]);
    assert.match(r.stdout, /Filter age > \$1 AND name <> \$2 {2}\(\$1 = '3', \$2 = 'n5'\)/);
  });
});

describe('command-line errors speak command-line', () => {
  it('no library call syntax in the messages a CLI user sees', async () => {
    const odd = path.join(dir, 'data.weird');
    await (await import('node:fs/promises')).writeFile(odd, 'a,b\n1,2\n');
    const attach = await runCli(['attach', bundle, odd]);
    assert.equal(attach.code, 1);
    assert.match(attach.stderr, /give its format .*--format/);
    const again = await runCli(['create', bundle]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists.*run attach, filter/);
    for (const r of [attach, again]) assert.doesNotMatch(r.stderr, /\{ format|open\(\)|extend\(\)/);
  });
});

describe('shell completion, examples, a spinner only on a terminal', () => {
  it('completion bash completes commands, flags and flag choices; zsh lists the same', async () => {
    const { writeFile } = await import('node:fs/promises');
    const { execFileSync } = await import('node:child_process');
    const bash = await runCli(['completion', 'bash']);
    assert.equal(bash.code, 0, bash.stderr);
    const script = path.join(dir, 'completion.bash');
    await writeFile(script, bash.stdout);
    const complete = (...words: string[]) =>
      execFileSync('bash', ['-c', `source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _bundlebase; echo "\${COMPREPLY[*]}"`, script, 'bundlebase', ...words], { encoding: 'utf8' }).trim();
    assert.equal(complete('que'), 'query');
    assert.equal(complete('--trust', 'complet'), 'completion');
    assert.equal(complete('query', 'b', '--fo'), '--format');
    assert.equal(complete('query', 'b', '--format', ''), 'table csv json');
    assert.equal(complete('attach', 'b', 'x', '--format', 'p'), 'parquet');
    const zsh = await runCli(['completion', 'zsh']);
    assert.match(zsh.stdout, /^#compdef bundlebase/);
    for (const command of ['query', 'attach', 'set-config', 'completion']) assert.match(zsh.stdout, new RegExp(`'${command}:`));
    assert.match(zsh.stdout, /\{-f,--format\}'\[output format\]:format:\(table csv json\)'/);
    const fish = await runCli(['completion', 'fish']);
    assert.equal(fish.code, 1);
    assert.match(fish.stderr, /No completion for shell 'fish'; use bash or zsh/);
  });

  it('the main commands show examples in --help', async () => {
    for (const command of ['create', 'attach', 'filter', 'commit', 'count', 'show', 'query', 'export', 'history', 'serve', 'repl']) {
      const r = await runCli([command, '--help']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`Examples:\\n  \\$ bundlebase ${command} `), command);
    }
  });

  it('query and count show a spinner on a terminal, and no escape code when piped', async () => {
    for (const args of [['query', bundle, 'SELECT * FROM bundle, range(100) t(j)', '-f', 'csv'], ['count', bundle]]) {
      const piped = await runCli(args, { BUNDLEBASE_SPINNER_DELAY: '0' });
      assert.equal(piped.code, 0, piped.stderr);
      assert.doesNotMatch(piped.stdout + piped.stderr, /\x1b/, args[0]);
    }
    const { execFileSync } = await import('node:child_process');
    let tty: string;
    try {
      // script(1) runs the command on a pseudo-terminal: stderr is a TTY, stdout goes to a file
      const out = path.join(dir, 'spun.csv');
      const command = `${process.execPath} dist/cli/main.js query '${bundle}' 'SELECT * FROM bundle, range(20000) t(j)' -f csv > '${out}'`;
      tty = execFileSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', env: { ...process.env, BUNDLEBASE_SPINNER_DELAY: '0' } });
      assert.doesNotMatch((await (await import('node:fs/promises')).readFile(out, 'utf8')).slice(0, 1000), /\x1b/);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // no script(1) here
      throw err;
    }
    assert.match(tty, /Running/);
    assert.match(tty, /\x1b\[2K$/); // the line is cleared at the end
    // count on a terminal: the spinner tracks DuckDB's progress, also on a bundle's locked-down database
    const count = execFileSync('script', ['-qec', `${process.execPath} dist/cli/main.js count '${bundle}'`, '/dev/null'], { encoding: 'utf8', env: { ...process.env, BUNDLEBASE_SPINNER_DELAY: '0' } });
    assert.match(count, /Counting.*\x1b\[2K50\r?\n$/s);
    assert.doesNotMatch(count, /error/);
  });
});

describe('the command line as a new user types it', () => {
  it('attach reads a file named from the current directory; commit with nothing staged is refused', async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { writeFile } = await import('node:fs/promises');
    const work = await tempDir();
    await writeFile(path.join(work, 'sales.csv'), 'id,amount\n1,10\n2,20\n');
    const bin = path.resolve('dist/cli/main.js');
    const cli = (...args: string[]) => promisify(execFile)(process.execPath, [bin, ...args], { cwd: work })
      .then(({ stdout, stderr }) => ({ code: 0, stdout, stderr }), (e: { code: number; stdout: string; stderr: string }) => e);
    assert.equal((await cli('create', 'sales')).code, 0);
    const attach = await cli('attach', 'sales', 'sales.csv');
    assert.equal(attach.code, 0, attach.stderr);
    assert.equal((await cli('commit', 'sales', '-m', 'first')).code, 0);
    assert.equal((await cli('count', 'sales')).stdout, '2\n');
    const again = await cli('commit', 'sales', '-m', 'again');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /Nothing to commit in sales: no staged changes/);
    const missing = await cli('attach', 'sales', 'nope.csv');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope\.csv' does not exist/);
  });
});
