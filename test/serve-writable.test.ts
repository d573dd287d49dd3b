import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { tableFromIPC } from 'apache-arrow';
import { create, open, serve, type Servers } from '../src/index.js';
import { expectError, runCli, tempDir } from './helpers.js';

const PASSWORD = 'writer secret';
let dir: string;
let bundleDir: string;
let servers: Servers;

before(async () => {
  dir = await tempDir();
  bundleDir = path.join(dir, 'sales');
  const b = await create(bundleDir);
  await b.initialize();
  // sources a network client may attach: inside the bundle's directory
  await writeFile(path.join(bundleDir, 'sales.csv'), 'id,region,amount\n1,east,10\n2,west,20\n3,east,5\n');
  await writeFile(path.join(bundleDir, 'more.csv'), 'id,region,amount\n4,north,7\n5,south,9\n');
  await b.attach('sales.csv');
  await b.commit('first');
  await b.close();
  servers = await serve(bundleDir, { pgPort: 0, flightPort: 0, password: PASSWORD, writable: true });
});

after(async () => {
  await servers?.close();
});

const pgClient = async () => {
  const client = new pg.Client({ host: '127.0.0.1', port: servers.pgPort, user: 'x', password: PASSWORD, database: 'bundle' });
  await client.connect();
  return client;
};

describe('serve --writable', () => {
  it('needs a password; without --writable a write is still READ_ONLY', async () => {
    await expectError(() => serve(bundleDir, { pgPort: 0, writable: true }), 'INVALID_ARGUMENT', /writable server needs a password/);
    const cli = await runCli(['serve', bundleDir, '--writable', '--pg-port', '0']);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /writable server needs a password/);
    const readOnly = await serve(bundleDir, { pgPort: 0, password: PASSWORD });
    const client = new pg.Client({ host: '127.0.0.1', port: readOnly.pgPort, user: 'x', password: PASSWORD, database: 'bundle' });
    await client.connect();
    await assert.rejects(client.query(`SET NAME 'x'; COMMIT 'x'`), (err: { code?: string }) => err.code !== undefined);
    assert.equal((await client.query('SELECT count(*)::INTEGER AS n FROM bundle')).rows[0].n, 3);
    await client.end();
    const { updateCommand } = await import('./support/flight-raw.mjs');
    const flight = await serve(bundleDir, { flightPort: 0, password: PASSWORD });
    await assert.rejects(updateCommand(flight.flightPort!, PASSWORD, `SET NAME 'x'`), (err: { code: number; details: string }) => err.code === 7 && /read-only/.test(err.details));
    await flight.close();
    await readOnly.close();
  });

  it('two PostgreSQL sessions commit from the same version: the first wins, the other gets CONFLICT, nothing is lost', async () => {
    const [a, b] = [await pgClient(), await pgClient()];
    const staged = await a.query('FILTER WHERE amount > 5');
    assert.deepEqual(staged.rows, [{ statement: 'FILTER WHERE amount > 5', result: 'Filter amount > 5' }]);
    await b.query(`SET NAME 'from b'`);
    const status = await a.query('SHOW STATUS');
    assert.deepEqual(status.rows.map((r) => r.description), ['Filter amount > 5'], "a session sees its own staged changes, not the other's");
    // both sessions commit at once; they were based on the same commit, so exactly one wins
    const outcomes = await Promise.allSettled([a.query(`COMMIT 'from a'`), b.query(`COMMIT 'from b'`)]);
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 1);
    assert.equal(lost[0]!.reason.code, '40001');
    assert.match(lost[0]!.reason.message, /CONFLICT|committed|conflict/i);
    const winner = outcomes[0]!.status === 'fulfilled' ? 'from a' : 'from b';
    let history = (await open(bundleDir)).history();
    assert.deepEqual(history.map((c) => c.message), ['first', winner]);
    // the loser's session starts again from the new version: it runs its change again and commits
    const loser = winner === 'from a' ? b : a;
    const again = winner === 'from a' ? `SET NAME 'from b'; COMMIT 'from b'` : `FILTER WHERE amount > 5; COMMIT 'from a'`;
    const rerun = await loser.query(again);
    assert.match(String((Array.isArray(rerun) ? rerun.at(-1) : rerun).rows.at(-1).result), /Committed [0-9a-f]{12}/);
    const bundle = await open(bundleDir);
    history = bundle.history();
    assert.deepEqual(history.map((c) => c.message).sort(), ['first', 'from a', 'from b']);
    assert.equal(bundle.name, 'from b');
    assert.equal(await bundle.numRows(), 2, 'the filter committed too');
    await bundle.close();
    // and the read side serves the new version
    assert.equal((await a.query('SELECT count(*)::INTEGER AS n FROM bundle')).rows[0].n, 2);
    await a.end();
    await b.end();
  });

  it('Flight SQL clients run statements too; sources outside the bundle are refused', async () => {
    const { createFlightSqlClient } = await import('@lakehouse-rs/flight-sql-client');
    const client = await createFlightSqlClient({ host: '127.0.0.1', port: servers.flightPort!, tls: false, headers: [], username: 'x', password: PASSWORD });
    const result = tableFromIPC(await client.query(`ATTACH 'more.csv'; COMMIT 'more'`));
    assert.deepEqual(result.toArray().map((r) => r.statement), [`ATTACH 'more.csv'`, `COMMIT 'more'`]);
    const count = tableFromIPC(await client.query('SELECT count(*)::INTEGER AS n FROM bundle'));
    assert.equal(count.get(0)?.n, 4, 'two more rows pass the committed filter');
    // (the Flight client library hides the server's message; psql shows it)
    await assert.rejects(client.query(`ATTACH '/etc/passwd' WITH (format = 'csv'); COMMIT 'x'`));
    const psql = await pgClient();
    await assert.rejects(psql.query(`ATTACH '../outside.csv'; COMMIT 'x'`), (err: { code?: string; message: string }) => err.code === '42501' && /inside the bundle's directory.*'\.\.\/outside\.csv'/.test(err.message));
    await assert.rejects(psql.query(`ATTACH 'more.csv'; SELECT 1`), /Run 'SELECT 1' on its own/);
    await psql.end();
    let history = (await open(bundleDir)).history();
    assert.equal(history.at(-1)?.message, 'more', 'nothing refused was committed');
    // executeUpdate: DoPut of a CommandStatementUpdate answers how many statements ran
    const { updateCommand } = await import('./support/flight-raw.mjs');
    assert.equal(await updateCommand(servers.flightPort!, PASSWORD, `SET DESCRIPTION 'via DoPut'; COMMIT 'update'`), 2);
    const updated = await open(bundleDir);
    assert.equal(updated.description, 'via DoPut');
    await updated.close();
    await assert.rejects(updateCommand(servers.flightPort!, PASSWORD, `ATTACH '/etc/passwd'`), (err: { code: number; details: string }) => err.code === 7 && /inside the bundle/.test(err.details));
    history = (await open(bundleDir)).history();
    assert.equal(history.at(-1)?.message, 'update');
  });
});
