import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { create } from '../src/index.js';
import { runCli, tempDir } from './helpers.js';

let client: Client;
let transport: StdioClientTransport;
let salesDir: string;
let salesVersion: string;

/** A tool's result: its structured content, or the error text when the call was refused. */
async function call(name: string, args: Record<string, unknown> = {}): Promise<{ error?: string; result: Record<string, unknown> }> {
  const r = await client.callTool({ name, arguments: args });
  const text = (r.content as { type: string; text: string }[])[0]!.text;
  if (r.isError) return { error: text, result: {} };
  assert.deepEqual(JSON.parse(text), r.structuredContent, 'the text is the structured content as JSON');
  return { result: r.structuredContent as Record<string, unknown> };
}

before(async () => {
  const dir = await tempDir();
  salesDir = path.join(dir, 'sales');
  await writeFile(path.join(dir, 'sales.csv'), 'id,region,amount,day\n1,east,10,2024-01-01\n2,west,20,2024-01-02\n3,east,5,2024-01-03\n4,north,7,2024-01-04\n');
  const sales = await create(salesDir).attach(path.join(dir, 'sales.csv')).setName('sales').setDescription('Orders by region');
  await sales.createView('by_region', await sales.select('SELECT region, sum(amount)::INTEGER AS total FROM bundle GROUP BY 1'));
  await sales.commit('orders');
  salesVersion = sales.version;
  await sales.close();
  const other = await create(path.join(dir, 'other')).attach(path.join(dir, 'sales.csv'));
  await other.commit('same rows, no name');
  await other.close();
  // a change staged by the command line: status shows it, queries read the committed rows
  assert.equal((await runCli(['filter', salesDir, 'amount > 6'])).code, 0);

  transport = new StdioClientTransport({ command: process.execPath, args: [path.resolve('dist/cli/main.js'), 'mcp', salesDir, path.join(dir, 'other'), '--max-rows', '3'], env: { ...process.env } as Record<string, string>, stderr: 'pipe' });
  client = new Client({ name: 'bundlebase-test', version: '1.0.0' });
  transport.stderr?.on('data', (d) => process.stderr.write(d));
  await client.connect(transport);
});

after(async () => {
  await client?.close();
});

describe('bundlebase mcp (the SDK client over stdio)', () => {
  it('lists its tools and one README resource per bundle', async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ['count', 'describe_data', 'history', 'list_bundles', 'query', 'sample', 'schema', 'status']);
    assert.ok(tools.every((t) => t.annotations?.readOnlyHint === true), 'every tool is read-only');
    const { resources } = await client.listResources();
    assert.deepEqual(resources.map((r) => [r.name, r.uri]), [['sales', 'bundlebase://sales/README.md'], ['other', 'bundlebase://other/README.md']]);
    const readme = await client.readResource({ uri: 'bundlebase://sales/README.md' });
    const text = (readme.contents[0] as { text: string }).text;
    assert.match(text, /^# sales\n\nOrders by region\n/);
    assert.match(text, /\| region \| Utf8 \| yes \|/);
    assert.match(text, /## View `by_region`\n[\s\S]*\| total \| Int32 \|/);
  });

  it('list_bundles, schema, count, history, status and describe_data', async () => {
    const { result: listed } = await call('list_bundles');
    assert.deepEqual((listed.bundles as { bundle: string; name: string | null; tables: string[]; version: string }[]).map((b) => [b.bundle, b.name, b.tables]),
      [['sales', 'sales', ['bundle', 'by_region']], ['other', null, ['bundle']]]);
    assert.deepEqual((await call('schema', { bundle: 'sales', table: 'by_region' })).result.columns, [{ name: 'region', type: 'Utf8', nullable: true }, { name: 'total', type: 'Int32', nullable: true }]);
    assert.deepEqual((await call('count', { bundle: 'sales' })).result, { rows: 4 });
    const { result: history } = await call('history', { bundle: 'sales' });
    assert.deepEqual((history.commits as { version: string; message: string }[]).map((c) => [c.version, c.message]), [[salesVersion, 'orders']]);
    assert.deepEqual((await call('status', { bundle: 'sales' })).result, { changes: [{ description: 'Filter amount > 6', operations: ['filter'] }] });
    assert.deepEqual((await call('status', { bundle: 'other' })).result, { changes: [] });
    const { result: profile } = await call('describe_data', { bundle: 'sales', columns: ['amount'] });
    assert.deepEqual(profile.columns, [{ name: 'amount', type: 'BIGINT', count: 4, nulls: 0, distinct: 4, min: 5, max: 20, mean: 10.5, stddev: (profile.columns as { stddev: number }[])[0]!.stddev }]);
  });

  it('query: parameters, views and bundle_info by name, bounded rows with a truncated flag', async () => {
    const { result } = await call('query', { bundle: 'sales', sql: 'SELECT id, day FROM bundle WHERE region = $1 AND amount > $2 ORDER BY id', params: ['east', 1] });
    assert.deepEqual(result, { columns: [{ name: 'id', type: 'Int64' }, { name: 'day', type: 'Date32<DAY>' }], rows: [{ id: 1, day: '2024-01-01T00:00:00.000Z' }, { id: 3, day: '2024-01-03T00:00:00.000Z' }], row_count: 2, truncated: false });
    assert.deepEqual((await call('query', { bundle: 'sales', sql: 'SELECT total FROM by_region ORDER BY total' })).result.rows, [{ total: 7 }, { total: 15 }, { total: 20 }]);
    assert.deepEqual((await call('query', { bundle: 'sales', sql: 'SELECT message FROM bundle_info.history' })).result.rows, [{ message: 'orders' }]);
    const bounded = (await call('query', { bundle: 'other', sql: 'SELECT id FROM bundle ORDER BY id' })).result;
    assert.deepEqual([bounded.rows, bounded.row_count, bounded.truncated], [[{ id: 1 }, { id: 2 }, { id: 3 }], 3, true], '--max-rows 3');
    const sample = (await call('sample', { bundle: 'other', limit: 2 })).result;
    assert.deepEqual([sample.row_count, sample.truncated], [2, true]);
    assert.deepEqual((await call('query', { bundle: 'other', sql: 'SELECT count(*) AS n FROM bundle' })).result.rows, [{ n: 4 }]);
  });

  it('query refuses files, writes and other statements with a clear error, and goes on', async () => {
    const refused = async (sql: string, pattern: RegExp) => {
      const { error } = await call('query', { bundle: 'sales', sql });
      assert.match(error ?? 'not refused', pattern, sql);
    };
    await refused("SELECT * FROM read_csv('/etc/passwd')", /^PERMISSION_DENIED: Table function 'read_csv' is not allowed/);
    await refused("SELECT * FROM '/etc/passwd'", /^NOT_FOUND: Table '\/etc\/passwd' does not exist/);
    await refused("SELECT * FROM read_text('/etc/passwd')", /^PERMISSION_DENIED/);
    await refused("SELECT getenv('HOME')", /^PERMISSION_DENIED: Function 'getenv' is not allowed/);
    await refused("COPY (SELECT 1) TO '/tmp/out.csv'", /^READ_ONLY/);
    await refused("ATTACH '/tmp/x.db' AS x", /^READ_ONLY/);
    await refused('SELECT 1; SELECT 2', /^INVALID_ARGUMENT: Send one statement at a time/);
    assert.match((await call('query', { sql: 'SELECT 1' })).error ?? '', /^INVALID_ARGUMENT: Name the bundle: give "bundle" as one of sales, other/);
    assert.match((await call('schema', { bundle: 'nope' })).error ?? '', /^NOT_FOUND: No bundle 'nope'/);
    assert.deepEqual((await call('query', { bundle: 'sales', sql: 'SELECT 1 AS one' })).result.rows, [{ one: 1 }], 'still serving');
  });
});
