import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { tableFromIPC } from 'apache-arrow';
import { create, serve, type Servers } from '../src/index.js';
import { tempDir, writeFixture } from './helpers.js';

const execFileAsync = promisify(execFile);
const hasPsql = spawnSync('sh', ['-c', 'command -v psql'], { stdio: 'ignore' }).status === 0;
const PASSWORD = 'catalog secret';

let servers: Servers;

before(async () => {
  const dir = await tempDir();
  const people = await writeFixture(path.join(dir, 'people.parquet'), `
    SELECT i::INTEGER AS id, 'person ' || i AS name, (i * 0.25)::DECIMAL(10, 2) AS balance, DATE '2024-01-01' + i::INTEGER AS day
    FROM range(100) t(i)`);
  const bundleDir = path.join(dir, 'served');
  const b = await create(bundleDir).attach(people).setName('people').setDescription('People and their balances');
  await b.createView('rich', await b.select('SELECT id, name FROM bundle WHERE balance >= 20'));
  await b.commit('to serve');
  await b.close();
  servers = await serve(bundleDir, { pgPort: 0, flightPort: 0, password: PASSWORD });
});

after(async () => {
  await servers?.close();
});

describe('psql meta-commands', { skip: hasPsql ? false : 'psql is not installed' }, () => {
  /** psql's aligned output (as a person sees it) of one command. */
  const psql = async (command: string) => {
    const r = await execFileAsync('psql', ['-h', '127.0.0.1', '-p', String(servers.pgPort), '-U', 'someone', '-d', 'bundle', '-X', '-c', command], { env: { ...process.env, PGPASSWORD: PASSWORD } })
      .catch((e: { stdout: string; stderr: string }) => assert.fail(`psql ${command} failed: ${e.stderr}`));
    assert.equal(r.stderr, '', command);
    return r.stdout;
  };
  /** The rows of an aligned psql table: cells trimmed, title, header and footer left out. */
  const rows = (out: string) => {
    const lines = out.split('\n');
    const body = lines.slice(lines.findIndex((l) => /^-+(\+-+)*$/.test(l)) + 1);
    return body.slice(0, body.findIndex((l) => /^\(\d+ rows?\)$/.test(l) || l === '')).map((l) => l.split('|').map((c) => c.trim()));
  };

  it('\\dt and \\d list the bundle as a table and its views', async () => {
    assert.deepEqual(rows(await psql('\\dt')), [['public', 'bundle', 'table', 'bundlebase']]);
    assert.deepEqual(rows(await psql('\\d')), [['public', 'bundle', 'table', 'bundlebase'], ['public', 'rich', 'view', 'bundlebase']]);
    assert.deepEqual(rows(await psql('\\dv')), [['public', 'rich', 'view', 'bundlebase']]);
    assert.deepEqual(rows(await psql('\\dn')), [['bundle_info', 'bundlebase'], ['public', 'bundlebase']]);
    assert.deepEqual(rows(await psql('\\dt bundle_info.*')).map((r) => r.slice(0, 2)), ['blocks', 'columns', 'config', 'history', 'indexes', 'status', 'views'].map((t) => ['bundle_info', t]));
  });

  it('\\d bundle and \\d+ bundle describe the columns with PostgreSQL types', async () => {
    const out = await psql('\\d bundle');
    assert.match(out, /Table "public\.bundle"/);
    assert.deepEqual(rows(out).map((r) => r.slice(0, 2)), [['id', 'integer'], ['name', 'text'], ['balance', 'numeric(10,2)'], ['day', 'date']]);
    const plus = await psql('\\d+ bundle');
    assert.match(plus, /Storage/);
    assert.deepEqual(rows(plus).filter((r) => r.length > 1).map((r) => r[0]), ['id', 'name', 'balance', 'day']);
    assert.match(plus, /Access method: heap/);
    const view = await psql('\\d rich');
    assert.match(view, /View "public\.rich"/);
    assert.deepEqual(rows(view).map((r) => r.slice(0, 2)), [['id', 'integer'], ['name', 'text']]);
    assert.match(await psql('\\dt+'), /People and their balances/, 'the description is the table comment');
    const missing = await execFileAsync('psql', ['-h', '127.0.0.1', '-p', String(servers.pgPort), '-U', 'x', '-d', 'bundle', '-X', '-c', '\\d nope'], { env: { ...process.env, PGPASSWORD: PASSWORD } })
      .catch((e: { stderr: string }) => ({ stderr: e.stderr }));
    assert.match(missing.stderr, /Did not find any relation named "nope"/);
  });

  it('\\l lists the database and SHOW answers common settings', async () => {
    assert.deepEqual(rows(await psql('\\l')).map((r) => r.slice(0, 3)), [['bundle', 'bundlebase', 'UTF8']]);
    assert.deepEqual(rows(await psql('SHOW server_version')), [['16.0 (bundlebase)']]);
    assert.deepEqual(rows(await psql('SHOW search_path')), [['"$user", public']]);
  });

  it('queries a view by name', async () => {
    assert.deepEqual(rows(await psql('SELECT count(*) AS n, min(id) AS first FROM rich')), [['20', '80']]);
  });
});

describe('catalogs for node-postgres and JDBC-style clients', () => {
  async function withClient<T>(body: (c: pg.Client) => Promise<T>): Promise<T> {
    const c = new pg.Client({ host: '127.0.0.1', port: servers.pgPort, user: 'anyone', password: PASSWORD, database: 'bundle' });
    await c.connect();
    try {
      return await body(c);
    } finally {
      await c.end();
    }
  }

  it('reads a view by name, with parameters (extended protocol)', async () => {
    const r = await withClient((c) => c.query('SELECT id, name FROM rich WHERE id < $1 ORDER BY id', [82]));
    assert.deepEqual(r.rows, [{ id: 80, name: 'person 80' }, { id: 81, name: 'person 81' }]);
  });

  it('answers pgJDBC\'s getTables query and information_schema', async () => {
    // what pgJDBC's DatabaseMetaData.getTables sends (trimmed to the parts that matter)
    const tables = await withClient((c) => c.query(`
      SELECT NULL AS TABLE_CAT, n.nspname AS TABLE_SCHEM, c.relname AS TABLE_NAME,
        CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'v' THEN 'VIEW' ELSE NULL END AS TABLE_TYPE, d.description AS REMARKS
      FROM pg_catalog.pg_namespace n, pg_catalog.pg_class c
        LEFT JOIN pg_catalog.pg_description d ON (c.oid = d.objoid AND d.objsubid = 0 AND d.classoid = 'pg_class'::regclass)
      WHERE c.relnamespace = n.oid AND c.relname LIKE '%'
        AND (c.relkind IN ('r','p','v') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema')
      ORDER BY TABLE_TYPE, TABLE_SCHEM, TABLE_NAME`));
    // (DuckDB keeps the aliases' case; JDBC looks columns up ignoring case)
    assert.deepEqual(tables.rows.map((r) => [r.TABLE_SCHEM, r.TABLE_NAME, r.TABLE_TYPE, r.REMARKS]), [
      ...['blocks', 'columns', 'config', 'history', 'indexes', 'status', 'views'].map((t) => ['bundle_info', t, 'TABLE', null]),
      ['public', 'bundle', 'TABLE', 'People and their balances'],
      ['public', 'rich', 'VIEW', null],
    ]);
    const columns = await withClient((c) => c.query(
      "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position", ['rich']));
    assert.deepEqual(columns.rows, [{ column_name: 'id', data_type: 'integer' }, { column_name: 'name', data_type: 'text' }]);
    const types = await withClient((c) => c.query("SELECT typname FROM pg_catalog.pg_type WHERE oid = 1082"));
    assert.deepEqual(types.rows, [{ typname: 'date' }]);
  });

  it('accepts the session statements drivers send, and stays read-only', async () => {
    await withClient(async (c) => {
      assert.equal((await c.query('SET extra_float_digits = 3')).command, 'SET');
      assert.equal((await c.query('BEGIN')).command, 'BEGIN');
      assert.equal((await c.query('SELECT count(*)::INTEGER AS n FROM bundle')).rows[0].n, 100);
      assert.equal((await c.query('ROLLBACK')).command, 'ROLLBACK');
      assert.deepEqual((await c.query('SHOW server_version_num')).rows, [{ server_version_num: '160000' }]);
      await assert.rejects(c.query('SHOW data_directory'), /unrecognized configuration parameter "data_directory"/);
      await assert.rejects(c.query("SET x = 1; COPY (SELECT 1) TO '/tmp/nope.csv'"), /refused|Send one statement/);
      // DuckDB's own catalogs (settings, file paths) stay out of reach
      await assert.rejects(c.query('SELECT * FROM system.main.duckdb_settings()'), /not allowed|does not exist/);
      await assert.rejects(c.query('SELECT * FROM duckdb_tables'), /Table 'duckdb_tables' does not exist/);
      const settings = await c.query('SELECT name FROM pg_settings');
      assert.ok(settings.rows.every((r) => !/directory|allowed|temp|secret/i.test(r.name)), 'no file settings');
    });
  });
});

describe('Flight SQL metadata commands', () => {
  async function command(name: string, value: object = {}) {
    const { fetchCommand, sqlCommand } = await import('./support/flight-raw.mjs');
    return tableFromIPC(await fetchCommand(servers.flightPort!, PASSWORD, sqlCommand(name, value)));
  }
  const flightClient = async () => {
    const { createFlightSqlClient } = await import('@lakehouse-rs/flight-sql-client');
    return createFlightSqlClient({ host: '127.0.0.1', port: servers.flightPort!, tls: false, headers: [], username: 'x', password: PASSWORD });
  };

  it('GetCatalogs, GetDbSchemas and GetTables agree (flight-sql-client)', async () => {
    const client = await flightClient();
    assert.deepEqual(tableFromIPC(await client.getCatalogs()).toArray().map((r) => r.catalog_name), ['bundle']);
    assert.deepEqual(tableFromIPC(await client.getDbSchemas({})).toArray().map((r) => [r.catalog_name, r.db_schema_name]), [['bundle', 'public'], ['bundle', 'bundle_info']]);
    const tables = tableFromIPC(await client.getTables({ includeSchema: false, dbSchemaFilterPattern: 'pub%' }));
    assert.deepEqual(tables.toArray().map((r) => [r.catalog_name, r.db_schema_name, r.table_name, r.table_type]), [['bundle', 'public', 'bundle', 'TABLE'], ['bundle', 'public', 'rich', 'VIEW']]);
    assert.equal(tableFromIPC(await client.getTables({ includeSchema: false, dbSchemaFilterPattern: 'other' })).numRows, 0);
  });

  it('GetTableTypes and GetSqlInfo', async () => {
    assert.deepEqual((await command('CommandGetTableTypes')).toArray().map((r) => r.table_type), ['TABLE', 'VIEW']);
    const info = await command('CommandGetSqlInfo', { info: [0, 3, 504] });
    assert.equal(String(info.schema.fields[1]!.type), 'Union<Utf8 | Bool | Int64 | Int32 | List<Utf8> | Map<{key:Int32, value:List<Int32>}>>');
    assert.deepEqual(info.toArray().map((r) => [r.info_name, r.value]), [[0, 'bundlebase'], [3, true], [504, '"']]);
    assert.ok((await command('CommandGetSqlInfo')).numRows >= 10, 'all known ids without a filter');
  });
});
