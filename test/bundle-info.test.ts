import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { tableFromIPC } from 'apache-arrow';
import { create, open, serve, type BundleBuilder, type Servers } from '../src/index.js';
import { expectError, runCli, tempDir } from './helpers.js';

const execFileAsync = promisify(execFile);
const hasPsql = spawnSync('sh', ['-c', 'command -v psql'], { stdio: 'ignore' }).status === 0;
const PASSWORD = 'info secret';
const TABLES = ['history', 'status', 'blocks', 'indexes', 'views', 'config', 'columns'];

let dir: string;
let bundleDir: string;
/** The bundle with two commits, a view, an index, a config value, and one staged filter. */
let working: BundleBuilder;
let versions: string[];

before(async () => {
  dir = await tempDir();
  bundleDir = path.join(dir, 'sales');
  await writeFile(path.join(dir, 'sales.csv'), 'id,region,amount\n1,east,10\n2,west,20\n3,east,5\n4,north,7\n');
  const b = await create(bundleDir).attach(path.join(dir, 'sales.csv'), { saveAs: 'ref' });
  await b.commit('first');
  await b.createIndex('region');
  await b.createView('by_region', await b.select('SELECT region, sum(amount)::INTEGER AS total FROM bundle GROUP BY 1'));
  await b.setConfig('s3.region', 'eu-west-1', 's3://bucket/');
  await b.commit('second');
  versions = b.history().map((c) => c.version);
  await b.filter('amount > $1', [6]);
  working = b;
});

after(async () => {
  await working?.close();
});

const rowsOf = async (b: { select(sql: string): PromiseLike<{ toObjects(): Promise<Record<string, unknown>[]>; close(): Promise<void> }> }, sql: string) => {
  const result = await b.select(sql);
  try {
    return await result.toObjects();
  } finally {
    await result.close();
  }
};

describe('bundle_info tables in the library', () => {
  it('history: one row per commit, oldest first', async () => {
    const rows = await rowsOf(working, 'SELECT id, version, message, change_count, url FROM bundle_info.history ORDER BY id');
    assert.deepEqual(rows, [
      { id: 0, version: versions[0], message: 'first', change_count: 1, url: bundleDir },
      { id: 1, version: versions[1], message: 'second', change_count: 3, url: bundleDir },
    ]);
  });

  it('status: the uncommitted changes before the select', async () => {
    const rows = await rowsOf(working, 'SELECT id, description, operation_count FROM bundle_info.status');
    assert.deepEqual(rows, [{ id: 0, description: 'Filter amount > $1', operation_count: 1 }]);
    const committed = await open(bundleDir);
    assert.deepEqual(await rowsOf(committed, 'SELECT * FROM bundle_info.status'), []);
    await committed.close();
  });

  it('blocks, indexes, views, config and columns', async () => {
    const [block] = await rowsOf(working, 'SELECT pack_name, source_count, source_locations, format, num_rows FROM bundle_info.blocks');
    assert.deepEqual({ ...block, source_locations: [...(block!.source_locations as Iterable<string>)] },
      { pack_name: 'base', source_count: 1n, source_locations: [path.join(dir, 'sales.csv')], format: 'csv', num_rows: 4n });
    assert.deepEqual(await rowsOf(working, 'SELECT name, "column", type FROM bundle_info.indexes'), [{ name: 'region', column: 'region', type: 'column' }]);
    const [view] = await rowsOf(working, 'SELECT id, name FROM bundle_info.views');
    assert.deepEqual(view, { id: [...working.views().keys()][0], name: 'by_region' });
    assert.deepEqual(await rowsOf(working, 'SELECT * FROM bundle_info.config'),
      [{ scope: 's3://bucket/', key: 's3.region', value: 'eu-west-1', source: 'stored', active: true, secure: false }]);
    assert.deepEqual(await rowsOf(working, 'SELECT * FROM bundle_info.columns'), [
      { Column: 'id', Type: 'Int64', Nullable: 'Yes' }, { Column: 'region', Type: 'Utf8', Nullable: 'Yes' }, { Column: 'amount', Type: 'Int64', Nullable: 'Yes' },
    ]);
    const renamed = await working.select('SELECT id AS key FROM bundle');
    assert.deepEqual(await rowsOf(renamed, 'SELECT "Column" FROM bundle_info.columns'), [{ Column: 'key' }], 'the columns of the bundle the select reads');
    await renamed.close();
  });

  it('joins with views and the bundle in one statement; unknown tables and files are refused', async () => {
    const rows = await rowsOf(working, 'SELECT v.name, (SELECT count(*) FROM bundle)::INTEGER AS n, (SELECT max(total) FROM by_region) AS top FROM bundle_info.views v');
    assert.deepEqual(rows, [{ name: 'by_region', n: 3, top: 20 }], 'the view reads the committed rows');
    await expectError(async () => rowsOf(working, 'SELECT * FROM bundle_info.secrets'), 'NOT_FOUND', /bundle_info\.secrets.*history, status, blocks/);
    await expectError(async () => rowsOf(working, "SELECT * FROM bundle_info.history, read_csv('/etc/passwd')"), 'UNTRUSTED', /\/etc\/passwd/);
    assert.deepEqual(await rowsOf(working, "SELECT 'bundle_info.history' AS s"), [{ s: 'bundle_info.history' }], 'literals are never rewritten');
    assert.deepEqual(await rowsOf(working, 'SELECT v.name FROM "bundle_info"."Views" v, BUNDLE_INFO."history" h WHERE h.id = 1'), [{ name: 'by_region' }], 'quoted and any case, as BI tools write names');
  });
});

describe('views and bundle_info from the command line', () => {
  it('query and the REPL read a view by name and the bundle_info tables', async () => {
    const view = await runCli(['query', bundleDir, 'SELECT region, total FROM by_region ORDER BY region', '--format', 'csv']);
    assert.equal(view.code, 0, view.stderr);
    assert.equal(view.stdout, 'region,total\neast,15\nnorth,7\nwest,20\n');
    const info = await runCli(['query', bundleDir, 'SELECT message FROM bundle_info.history ORDER BY id', '--format', 'csv']);
    assert.equal(info.stdout, 'message\nfirst\nsecond\n');
    const child = spawn(process.execPath, [path.resolve('dist/cli/main.js'), 'repl', bundleDir], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, BUNDLEBASE_HISTORY: path.join(dir, 'repl-history') } });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stdin.end(['SELECT total * 100 AS big FROM by_region WHERE region = \'west\';', 'SELECT count(*) * 11 AS n FROM bundle_info.views;', 'EXIT', ''].join('\n'));
    assert.equal(await new Promise<number | null>((resolve) => child.on('close', resolve)), 0);
    assert.match(output, /\b2000\b/);
    assert.match(output, /\b11\b/);
  });
});

describe('views and bundle_info over the servers', () => {
  let servers: Servers;
  before(async () => {
    servers = await serve(bundleDir, { pgPort: 0, flightPort: 0, password: PASSWORD });
  });
  after(async () => {
    await servers?.close();
  });

  it('psql reads a view by name and bundle_info', { skip: hasPsql ? false : 'psql is not installed' }, async () => {
    const psql = async (sql: string) => (await execFileAsync('psql', ['-h', '127.0.0.1', '-p', String(servers.pgPort), '-U', 'x', '-d', 'bundle', '-X', '-A', '-t', '-c', sql], { env: { ...process.env, PGPASSWORD: PASSWORD } })).stdout;
    assert.equal(await psql('SELECT region, total FROM by_region ORDER BY region'), 'east|15\nnorth|7\nwest|20\n');
    assert.equal(await psql('SELECT message FROM bundle_info.history ORDER BY id'), 'first\nsecond\n');
    assert.equal(await psql('SELECT count(*) FROM bundle_info.status'), '0\n');
  });

  it('node-postgres reads every bundle_info table; files stay out of reach', async () => {
    const c = new pg.Client({ host: '127.0.0.1', port: servers.pgPort, user: 'x', password: PASSWORD, database: 'bundle' });
    await c.connect();
    try {
      for (const t of TABLES) assert.ok((await c.query(`SELECT * FROM bundle_info.${t}`)).fields.length > 0, t);
      assert.deepEqual((await c.query('SELECT name FROM bundle_info.views')).rows, [{ name: 'by_region' }]);
      assert.deepEqual((await c.query('SELECT count(*)::INTEGER AS n FROM "bundle_info"."history"')).rows, [{ n: 2 }], 'quoted, as BI tools write it');
      await assert.rejects(c.query('SELECT * FROM memory.bundle_info.history'), /does not exist/);
      await assert.rejects(c.query('SELECT * FROM main.bundle'), /does not exist/);
      assert.deepEqual((await c.query('SELECT "Column" FROM bundle_info.columns WHERE "Type" = $1', ['Utf8'])).rows, [{ Column: 'region' }]);
      assert.deepEqual((await c.query('SELECT total FROM by_region WHERE region = $1', ['east'])).rows, [{ total: 15 }]);
      await assert.rejects(c.query("SELECT * FROM bundle_info.history, read_csv('/etc/passwd')"), /read_csv.*not allowed/);
      await assert.rejects(c.query("SELECT * FROM '/etc/passwd'"), /does not exist/);
      await assert.rejects(c.query('SELECT * FROM bundle_info.nope'), /bundle_info\.nope' does not exist/);
    } finally {
      await c.end();
    }
  });

  it('Flight SQL queries bundle_info and lists it', async () => {
    const { createFlightSqlClient } = await import('@lakehouse-rs/flight-sql-client');
    const client = await createFlightSqlClient({ host: '127.0.0.1', port: servers.flightPort!, tls: false, headers: [], username: 'x', password: PASSWORD });
    const table = tableFromIPC(await client.query('SELECT pack_name, format FROM bundle_info.blocks'));
    assert.deepEqual(table.toArray().map((r) => [r.pack_name, r.format]), [['base', 'csv']]);
    const listed = tableFromIPC(await client.getTables({ includeSchema: false, dbSchemaFilterPattern: 'bundle_info' }));
    assert.deepEqual(listed.toArray().map((r) => r.table_name), TABLES);
  });
});
