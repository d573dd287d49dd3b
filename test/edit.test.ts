import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { create, open, type BundleBuilder } from '../src/index.js';
import { normalizedName, normalizingRenames } from '../src/operations/normalizeColumnNames.js';
import type { ManifestOp } from '../src/operations/operation.js';
import { operationFromManifest } from '../src/operations/registry.js';
import { formatSetClause, parseSetClause } from '../src/plan/sql.js';
import { duckRows, expectError, operationsOf, readCommit, runCli, tempDir, writeFixture } from './helpers.js';

let dir: string;
let orders: string;
let later: string;
let ordersCsv: string;

/** id 0..99, amount = id % 10, status 'open' (id % 3 = 0) or 'done', code = id as text except every 25th ('x<id>'). */
const ORDERS = (n: number, from = 0) => `SELECT (${from} + i)::INTEGER AS id, ((${from} + i) % 10)::INTEGER AS amount,
  CASE WHEN (${from} + i) % 3 = 0 THEN 'open' ELSE 'done' END AS status,
  CASE WHEN (${from} + i) % 25 = 0 THEN 'x' || (${from} + i) ELSE ((${from} + i))::VARCHAR END AS code,
  CASE WHEN (${from} + i) % 4 = 0 THEN NULL ELSE ((${from} + i) * 0.5)::DOUBLE END AS score
  FROM range(${n}) t(i)`;

before(async () => {
  dir = await tempDir();
  orders = await writeFixture(path.join(dir, 'orders.parquet'), ORDERS(100));
  later = await writeFixture(path.join(dir, 'later.parquet'), ORDERS(10, 100));
  ordersCsv = await writeFixture(path.join(dir, 'orders.csv'), ORDERS(100));
});

const ids = async (b: { toColumns(): Promise<Record<string, unknown[]>> }) => ((await b.toColumns()).id ?? []).map(Number).sort((x, y) => x - y);
const range = (from: number, to: number, keep: (i: number) => boolean = () => true) => Array.from({ length: to - from }, (_, i) => from + i).filter(keep);
const columns = async (b: BundleBuilder) => (await b.schema()).fields.map((f) => `${f.name}:${f.type}`);

describe('delete', () => {
  it('drops the matching rows, keeps the schema, and describes itself', async () => {
    const b = await create().attach(orders).delete('amount < $1', [3]);
    assert.deepEqual(await ids(b), range(0, 100, (i) => i % 10 >= 3));
    assert.deepEqual((await b.schema()).fields.map((f) => f.name), ['id', 'amount', 'status', 'code', 'score']);
    assert.equal(await b.numRows(), 70);
    const change = b.status().changes.at(-1)!;
    assert.equal(change.description, 'Delete rows where amount < $1');
    assert.deepEqual(change.operations.map((o) => o.type), ['delete']);
    await b.close();
  });

  it('keeps rows where the condition is NULL, as SQL DELETE does', async () => {
    const b = await create().attach(orders).delete('score > 10');
    // score is NULL for every 4th id: those rows stay
    assert.deepEqual(await ids(b), range(0, 100, (i) => i % 4 === 0 || i * 0.5 <= 10));
    await b.close();
  });

  it('pushes down: explain of a delete on a Parquet source shows the condition in the scan', async () => {
    const b = await create().attach(orders).attach(later).delete('amount >= 7');
    const plan = await b.explain();
    const scan = /READ_PARQUET[\s\S]*?Filters:([\s\S]*?)~/.exec(plan);
    assert.ok(scan, plan);
    assert.match(scan[1]!, /amount/);
    // a filter after an update of other columns still reaches the scan
    const u = await create().attach(orders).update({ status: "'x'" }, 'amount = 1').filter('id < 5');
    assert.match(/READ_PARQUET[\s\S]*?Filters:([\s\S]*?)~/.exec(await u.explain())?.[1] ?? '', /id<5/);
    await Promise.all([b.close(), u.close()]);
  });

  it('applies to the data present when recorded; a source attached later keeps its matching rows', async () => {
    const b = await create().attach(orders).delete('amount < 5').attach(later);
    assert.deepEqual(await ids(b), [...range(0, 100, (i) => i % 10 >= 5), ...range(100, 110)]);
    // the scan of the later source carries no condition: the block test folds away per source
    assert.equal((await b.explain()).match(/Filters:/g)?.length, 1);
    await b.close();
  });

  it('always: also drops the matching rows of sources attached later', async () => {
    const b = await create().attach(orders).delete('amount < 5', [], { always: true }).attach(later);
    assert.deepEqual(await ids(b), range(0, 110, (i) => i % 10 >= 5));
    assert.equal(b.status().changes[1]!.description, 'Always delete rows where amount < 5');
    await b.close();
  });

  it('still applies to a source that replaces one it covered, not to one detached and attached again', async () => {
    const replacement = await writeFixture(path.join(dir, 'orders-v2.parquet'), ORDERS(20));
    const b = await create().attach(orders).delete('amount < 5').replace(orders, replacement);
    assert.deepEqual(await ids(b), range(0, 20, (i) => i % 10 >= 5));
    await b.detach(replacement).attach(replacement);
    assert.deepEqual(await ids(b), range(0, 20));
    await b.close();
  });

  it('bad input records nothing', async () => {
    const b = await create().attach(orders);
    await expectError(() => b.delete(''), 'INVALID_ARGUMENT', /Delete condition/);
    await expectError(() => b.delete('nope > 1'), 'SQL_ERROR', /nope/);
    await expectError(() => b.delete('amount >'), 'SQL_ERROR', /Delete rows where amount >/);
    await expectError(() => b.delete('amount > $1'), 'INVALID_ARGUMENT', /\$1/);
    await expectError(() => create().delete('amount > 1'), 'INVALID_ARGUMENT', /no sources/);
    assert.equal(b.status().changes.length, 1);
    assert.equal(await b.numRows(), 100);
    await b.close();
  });
});

describe('update', () => {
  it('sets columns in the matching rows; each column keeps its type; $n serve set and where', async () => {
    const b = await create().attach(orders).update({ status: '$1', amount: 'amount * 1.6' }, 'id < $2', ['closed', 3]);
    const before = await columns(await create().attach(orders));
    assert.deepEqual(await columns(b), before);
    const rows = (await b.toObjects()).slice(0, 4);
    assert.deepEqual(rows.map((r) => [r.id, r.amount, r.status]), [[0, 0, 'closed'], [1, 2, 'closed'], [2, 3, 'closed'], [3, 3, 'open']]);
    assert.equal(b.status().changes.at(-1)!.description, 'Update status, amount where id < $2');
    await b.close();
  });

  it('without a condition sets every row; expressions see the row before the update', async () => {
    const b = await create().attach(orders).update({ id: 'amount', amount: 'id' });
    const rows = await b.toObjects();
    assert.deepEqual(rows.slice(11, 13).map((r) => [r.id, r.amount]), [[1, 11], [2, 12]]);
    assert.equal(b.status().changes.at(-1)!.description, 'Update id, amount');
    await b.close();
  });

  it('plain: sources attached later keep their values; always: they are updated too', async () => {
    const plain = await create().attach(orders).update({ status: "'big'" }, 'amount >= 8').attach(later);
    const always = await create().attach(orders).update({ status: "'big'" }, 'amount >= 8', [], { always: true }).attach(later);
    const big = async (b: BundleBuilder) => (await b.toObjects()).filter((r) => r.status === 'big').map((r) => Number(r.id));
    assert.deepEqual(await big(plain), range(0, 100, (i) => i % 10 >= 8));
    assert.deepEqual(await big(always), range(0, 110, (i) => i % 10 >= 8));
    assert.equal(always.status().changes[1]!.description, 'Always update status where amount >= 8');
    await Promise.all([plain.close(), always.close()]);
  });

  it('bad input records nothing: unknown column, bad expression, empty set', async () => {
    const b = await create().attach(orders);
    await expectError(() => b.update({ nope: '1' }), 'INVALID_ARGUMENT', /'nope' not found/);
    await expectError(() => b.update({ status: 'missing_column' }), 'SQL_ERROR', /missing_column/);
    await expectError(() => b.update({ status: "'x'" }, 'amount >'), 'SQL_ERROR', /Update status where amount >/);
    await expectError(() => b.update({}), 'INVALID_ARGUMENT', /at least one column/);
    await expectError(() => b.update({ status: '' }), 'INVALID_ARGUMENT', /'status'/);
    assert.equal(b.status().changes.length, 1);
    // a value that cannot take the column's type fails the read, naming it
    await b.update({ amount: "'not a number'" }, 'id = 5');
    await expectError(() => b.toObjects(), 'SQL_ERROR', /not a number/);
    await b.close();
  });
});

describe('addColumn and castColumn', () => {
  it('addColumn appends a computed column, in the schema at once', async () => {
    const b = await create().attach(orders).addColumn('double_amount', 'amount * 2');
    assert.deepEqual((await b.schema()).fields.map((f) => f.name), ['id', 'amount', 'status', 'code', 'score', 'double_amount']);
    assert.deepEqual((await b.toColumns()).double_amount!.slice(0, 4), [0, 2, 4, 6]);
    assert.equal(b.status().changes.at(-1)!.description, 'Add column double_amount as amount * 2');
    await expectError(() => b.addColumn('AMOUNT', '1'), 'INVALID_ARGUMENT', /'amount' already exists/);
    await expectError(() => b.addColumn('x', 'no_such + 1'), 'SQL_ERROR', /no_such/);
    await expectError(() => b.addColumn('', '1'), 'INVALID_ARGUMENT', /Column name/);
    assert.equal(b.status().changes.length, 2);
    await b.close();
  });

  it('schema() shows every edit at once without reading a row', async () => {
    const pages: number[] = [];
    const b = await create().defineFunction({
      name: 'counted',
      output: { 'Order Id': 'Int64', Amount: 'Utf8' },
      fn: (page) => {
        pages.push(page);
        return page === 0 ? [{ 'Order Id': 1, Amount: '5' }] : null;
      },
    }).attach('function://counted');
    await b.delete('"Order Id" = 7').update({ Amount: "'0'" }, '"Order Id" = 2', [], { always: true })
      .castColumn('Amount', 'INTEGER').addColumn('Twice', 'Amount * 2').normalizeColumnNames();
    assert.deepEqual(await columns(b), ['order_id:Int64', 'amount:Int32', 'twice:Int32']);
    assert.deepEqual(pages, [], 'no page was read');
    assert.deepEqual(await b.toObjects(), [{ order_id: 1n, amount: 5, twice: 10 }]);
    assert.ok(pages.length > 0);
    await b.close();
  });

  it('castColumn changes the type in place; a value that does not convert fails the read naming the column', async () => {
    const b = await create().attach(orders).castColumn('code', 'INTEGER');
    assert.deepEqual(await columns(b), ['id:Int32', 'amount:Int32', 'status:Utf8', 'code:Int32', 'score:Float64']);
    await expectError(() => b.toObjects(), 'SQL_ERROR', /x0[\s\S]*code|code[\s\S]*x0/);
    assert.equal(b.status().changes.at(-1)!.description, 'Cast column code to INTEGER');
    await b.close();
  });

  it('castColumn lenient: values that do not convert become NULL', async () => {
    const b = await create().attach(orders).castColumn('code', 'INTEGER', { lenient: true });
    const codes = (await b.toColumns()).code!;
    assert.deepEqual(codes.slice(0, 3), [null, 1, 2]);
    assert.equal(codes.filter((c) => c === null).length, 4);
    assert.equal(b.status().changes.at(-1)!.description, 'Cast column code to INTEGER (lenient)');
    await b.close();
  });

  it('castColumn clean: matches of a pattern are removed from the text before the cast', async () => {
    // code is the id as text, 'x<id>' for every 25th
    const b = await create().attach(orders).castColumn('code', 'INTEGER', { clean: '[^0-9]' });
    assert.deepEqual((await b.toColumns()).code, range(0, 100));
    assert.equal(b.status().changes.at(-1)!.description, 'Cast column code to INTEGER (clean: [^0-9])');
    const quoted = await create().attach(orders).castColumn('status', 'VARCHAR', { clean: "o|'" });
    assert.deepEqual(new Set((await quoted.toColumns()).status), new Set(['pen', 'dne']));
    await expectError(() => b.castColumn('status', 'INTEGER', { clean: '[0-9' }), 'INVALID_ARGUMENT', /clean pattern '\[0-9' is not a regular expression/);
    await expectError(() => b.castColumn('status', 'INTEGER', { clean: '' }), 'INVALID_ARGUMENT', /clean pattern/);
    assert.equal(b.status().changes.length, 2);
    await Promise.all([b.close(), quoted.close()]);
  });

  it('castColumn bad input records nothing', async () => {
    const b = await create().attach(orders);
    await expectError(() => b.castColumn('code', 'integr'), 'SQL_ERROR', /integr/);
    await expectError(() => b.castColumn('nope', 'INTEGER'), 'INVALID_ARGUMENT', /'nope' not found/);
    await expectError(() => b.castColumn('code', 'INTEGER) AS code, 1 AS (x'), 'INVALID_ARGUMENT', /is not a type name/);
    assert.equal(b.status().changes.length, 1);
    await b.close();
  });
});

describe('normalizeColumnNames', () => {
  it('names: lower snake case, runs of other characters to _, a leading digit prefixed with _', () => {
    const cases: [string, string][] = [
      ['Customer Id', 'customer_id'], ['customerId', 'customer_id'], ['HTTPServer', 'http_server'], ['Phone 1', 'phone_1'],
      ['2024 Total', '_2024_total'], ['  --a--b--  ', 'a_b'], ['Café Ñame', 'café_ñame'], ['!!!', 'column_3'],
    ];
    for (const [from, to] of cases) assert.equal(normalizedName(from, 3), to, from);
  });

  it('collisions get _2, _3 in column order; renames run in an order that never meets a name in use', () => {
    const renames = normalizingRenames(['Customer Id', 'customer_id', 'CUSTOMER-ID', 'b', 'a']);
    assert.deepEqual(renames.map((r) => [r.oldName, r.newName]), [
      ['customer_id', 'customer_id_2'], ['Customer Id', 'customer_id'], ['CUSTOMER-ID', 'customer_id_3'],
    ]);
  });

  it('is one change of renameColumn operations on the bundle, and the schema shows it at once', async () => {
    const messy = await writeFixture(path.join(dir, 'messy.parquet'), `SELECT 1 AS "Customer Id", 2 AS "customer_id", 'x' AS "First-Name", 3 AS "2024 Total"`);
    const b = await create().attach(messy).normalizeColumnNames();
    assert.deepEqual((await b.schema()).fields.map((f) => f.name), ['customer_id', 'customer_id_2', 'first_name', '_2024_total']);
    assert.deepEqual(await b.toObjects(), [{ customer_id: 1, customer_id_2: 2, first_name: 'x', _2024_total: 3 }]);
    const change = b.status().changes.at(-1)!;
    assert.equal(change.description, 'Normalize column names');
    assert.deepEqual(change.operations.map((o) => o.type), ['renameColumn', 'renameColumn', 'renameColumn', 'renameColumn']);
    await b.undo();
    assert.equal((await b.schema()).fields[0]!.name, 'Customer Id');
    // names already normal: no change recorded; no sources: refused
    const normal = await create().attach(orders).normalizeColumnNames();
    assert.equal(normal.status().changes.length, 1);
    await expectError(() => create().normalizeColumnNames(), 'INVALID_ARGUMENT', /no sources to normalize the column names of/);
    await Promise.all([b.close(), normal.close()]);
  });
});

describe('persistence, history and time travel', () => {
  it('commit writes upstream-compatible operations; reopening reads the same rows', async () => {
    const bundleDir = path.join(dir, 'persist');
    const b = await create(bundleDir).attach(orders)
      .delete('amount = $1', [9])
      .delete('id = 95', [], { always: true })
      .update({ status: "'closed'", 'code': "'c' || code" }, 'amount = 0')
      .update({ status: "'late'" }, undefined, [], { always: true })
      .addColumn('half', 'amount / 2')
      .castColumn('score', 'DOUBLE', { lenient: true })
      .castColumn('status', 'VARCHAR', { clean: '[aeiou]' });
    const want = await b.toObjects();
    await b.commit('cleaned');
    const ops = operationsOf((await readCommit(bundleDir)).doc).slice(2);
    assert.deepEqual(ops, [
      { type: 'delete', where: 'amount = $1', parameters: [9] },
      { type: 'alwaysDelete', where: 'id = 95' },
      { type: 'updateData', setClause: "status = 'closed', code = 'c' || code", where: 'amount = 0' },
      { type: 'alwaysUpdate', setClause: "status = 'late'" },
      { type: 'addColumn', name: 'half', expression: 'amount / 2' },
      { type: 'castColumn', name: 'score', newType: 'DOUBLE', lenient: true },
      { type: 'castColumn', name: 'status', newType: 'VARCHAR', clean: '[aeiou]' },
    ]);
    const r = await open(bundleDir);
    assert.deepEqual(await r.toObjects(), want);
    assert.deepEqual(r.operations().slice(2).map((o) => o.describe()), [
      'Delete rows where amount = $1', 'Always delete rows where id = 95', 'Update status, code where amount = 0',
      'Always update status', 'Add column half as amount / 2', 'Cast column score to DOUBLE (lenient)',
      'Cast column status to VARCHAR (clean: [aeiou])',
    ]);
    // a plain delete recorded in an earlier commit leaves a source attached now alone (109 has amount 9);
    // the always update reaches it, the plain one (amount = 0: 100) does not
    const e = await r.extend().attach(later);
    const added = (await e.toObjects()).filter((row) => Number(row.id) >= 100);
    assert.deepEqual(added.map((row) => Number(row.id)), range(100, 110));
    assert.deepEqual(new Set(added.map((row) => row.status)), new Set(['lt']));
    assert.equal(added[0]!.code, 'x100');
    await Promise.all([b.close(), r.close(), e.close()]);
  });

  it('reads an older version without the edits; diff shows the new and retyped columns', async () => {
    const bundleDir = path.join(dir, 'travel');
    const b = await create(bundleDir).attach(orders);
    await b.commit('raw');
    await b.delete('amount > 0').addColumn('flag', 'true').castColumn('code', 'VARCHAR(10)').castColumn('id', 'BIGINT').commit('edited');
    assert.equal(await b.numRows(), 10);
    const old = await open(bundleDir, { version: 1 });
    assert.equal(await old.numRows(), 100);
    assert.deepEqual((await old.schema()).fields.map((f) => f.name), ['id', 'amount', 'status', 'code', 'score']);
    const diff = await b.diff(1);
    assert.deepEqual(diff.schema.added, ['flag']);
    assert.deepEqual(diff.schema.changed, [{ name: 'id', from: 'Int32', to: 'Int64' }]);
    assert.deepEqual(diff.commits[0]!.changes.map((c) => c.description), ['Delete rows where amount > 0', 'Add column flag as true', 'Cast column code to VARCHAR(10)', 'Cast column id to BIGINT']);
    await Promise.all([b.close(), old.close()]);
  });

  it('status(), undo() and diff() know every edit; each one commits, reopens, and older versions read without it', async () => {
    const bundleDir = path.join(dir, 'each');
    const b = await create(bundleDir).attach(orders);
    await b.commit('raw');
    const edits: [type: string, description: string, record: (x: BundleBuilder) => PromiseLike<unknown>][] = [
      ['delete', 'Delete rows where amount >= $1', (x) => x.delete('amount >= $1', [8])],
      ['alwaysDelete', 'Always delete rows where id = 1', (x) => x.delete('id = 1', [], { always: true })],
      ['updateData', 'Update status where amount = 0', (x) => x.update({ status: "'zero'" }, 'amount = 0')],
      ['alwaysUpdate', 'Always update code', (x) => x.update({ code: "'c' || code" }, undefined, [], { always: true })],
      ['addColumn', 'Add column Half Amount as amount / 2', (x) => x.addColumn('Half Amount', 'amount / 2')],
      ['castColumn', 'Cast column score to INTEGER', (x) => x.castColumn('score', 'INTEGER')],
      ['renameColumn', 'Normalize column names', (x) => x.normalizeColumnNames()],
    ];
    const versions = [{ rows: await b.toObjects(), fields: (await b.schema()).fields.map((f) => `${f.name}:${f.type}`) }];
    for (const [type, description, record] of edits) {
      await record(b);
      const change = b.status().changes.at(-1)!;
      assert.equal(change.description, description);
      assert.deepEqual(change.operations.map((o) => o.type), [type]);
      const rows = await b.toObjects();
      assert.notDeepEqual(rows, versions.at(-1)!.rows, `${type} changes the rows`);
      await b.undo();
      assert.equal(b.status().changes.length, 0);
      assert.deepEqual(await b.toObjects(), versions.at(-1)!.rows, `undo of ${type}`);
      await record(b);
      await b.commit(type);
      const diff = await b.diff(versions.length);
      assert.deepEqual(diff.commits.map((c) => c.changes.map((ch) => ch.description)), [[description]]);
      versions.push({ rows, fields: (await b.schema()).fields.map((f) => `${f.name}:${f.type}`) });
    }
    assert.deepEqual(versions.at(-1)!.fields, ['id:Int32', 'amount:Int32', 'status:Utf8', 'code:Utf8', 'score:Int32', 'half_amount:Float64']);
    for (const [i, want] of versions.entries()) {
      const old = await open(bundleDir, { version: i + 1 });
      assert.deepEqual(await old.toObjects(), want.rows, `version ${i + 1}`);
      assert.deepEqual((await old.schema()).fields.map((f) => `${f.name}:${f.type}`), want.fields);
      await old.close();
    }
    // the command line reads older versions the same way
    const at = async (v: number) => (await runCli(['query', bundleDir, 'SELECT count(*) AS n, count(DISTINCT status) AS s FROM bundle', '--at', String(v), '-f', 'csv'])).stdout.trim();
    assert.deepEqual(await Promise.all([at(1), at(2), at(4)]), ['n,s\n100,2', 'n,s\n80,2', 'n,s\n79,3']);
    await b.close();
  });

  it('reads the fields other versions write: upstream updateData `where`, older `whereClause`, Arrow type names', async () => {
    const context = { baseDir: undefined };
    const decode = (op: Record<string, unknown>) => operationFromManifest(op as ManifestOp, context, 'test.yaml');
    assert.equal(decode({ type: 'updateData', setClause: "s = 'x'", where: 'a > 1' }).describe(), 'Update s where a > 1');
    assert.equal(decode({ type: 'updateData', setClause: "s = 'x'", whereClause: 'a > 1' }).describe(), 'Update s where a > 1');
    // upstream's plain delete keeps its condition beside the tombstone file: the condition is replayed
    assert.equal(decode({ type: 'delete', tombstone: 'ab/cdef.tomb', where: 'a > 1' }).describe(), 'Delete rows where a > 1');
    await expectError(() => decode({ type: 'delete', tombstone: 'ab/cdef.tomb' }), 'IO_ERROR', /tombstone file \('ab\/cdef.tomb'\)/);
    await expectError(() => decode({ type: 'updateData', overlay: 'ab/cdef.update', where: 'a > 1' }), 'IO_ERROR', /overlay file \('ab\/cdef.update'\)/);
    // upstream's first castColumn named the column `columnName`
    assert.equal(decode({ type: 'castColumn', columnName: 'price', newType: 'INTEGER', clean: '[^0-9]' }).describe(), 'Cast column price to INTEGER (clean: [^0-9])');
    // upstream's CAST COLUMN takes Arrow type names (exact case: `Int8` is Arrow's 8-bit, DuckDB's `INT8` 64-bit)
    const b = await create().attach(orders).castColumn('id', 'Int64').castColumn('amount', 'Utf8').castColumn('score', 'Float32').castColumn('status', 'VARCHAR')
      .addColumn('small', '1').castColumn('small', 'Int8').addColumn('wide', '1').castColumn('wide', 'INT8');
    assert.deepEqual(await columns(b), ['id:Int64', 'amount:Utf8', 'status:Utf8', 'code:Utf8', 'score:Float32', 'small:Int8', 'wide:Int64']);
    assert.equal(b.status().changes[1]!.description, 'Cast column id to Int64');
    await b.close();
  });

  it('reads manifests written by upstream: alwaysUpdate setClause with quoted names and nested commas', () => {
    assert.deepEqual(parseSetClause(`salary = 0, status = 'a, b', "Full Name" = concat(x, ', ', y), n = [1, 2]`), [
      ['salary', '0'], ['status', "'a, b'"], ['Full Name', "concat(x, ', ', y)"], ['n', '[1, 2]'],
    ]);
    assert.equal(parseSetClause('salary'), undefined);
    assert.equal(parseSetClause('a <= 3'), undefined);
    const set: [string, string][] = [['a b', "'x'"], ['c', 'c + 1']];
    assert.deepEqual(parseSetClause(formatSetClause(set)), set);
  });
});

describe('with views, joins and indexes', () => {
  it('a view over an edited bundle sees the edits; a view records edits of its own', async () => {
    const bundleDir = path.join(dir, 'views');
    const b = await create(bundleDir).attach(orders).delete('amount >= 5');
    await b.createView('open_orders', await b.select("SELECT * FROM bundle WHERE status = 'open'"));
    await b.commit('with view');
    const view = await b.view('open_orders');
    assert.deepEqual(await ids(view), range(0, 100, (i) => i % 10 < 5 && i % 3 === 0));
    const edited = await view.extend().update({ status: "'o'" }).delete('id < 10');
    assert.deepEqual(new Set((await edited.toColumns()).status), new Set(['o']));
    assert.deepEqual(await ids(edited), range(10, 100, (i) => i % 10 < 5 && i % 3 === 0));
    // edits the parent records after the view was made reach the view too (it selects from the bundle as it is)
    await b.update({ status: "'done'" }, 'id = 3').delete('id = 6').addColumn('flag', 'true').commit('more edits');
    const again = await b.view('open_orders');
    assert.deepEqual(await ids(again), range(0, 100, (i) => i % 10 < 5 && i % 3 === 0 && i !== 3 && i !== 6));
    assert.equal((await again.schema()).fields.at(-1)!.name, 'flag');
    await Promise.all([b.close(), view.close(), edited.close(), again.close()]);
  });

  it('edits before and after a join', async () => {
    const regions = await writeFixture(path.join(dir, 'regions.parquet'), `SELECT i::INTEGER AS amount, 'r' || i AS region FROM range(10) t(i)`);
    const b = await create().attach(orders).delete('amount >= 5').join('regions', regions, '$base.amount = regions.amount', 'left')
      .update({ region: "upper(region)" }, 'region = $1', ['r1']).delete('region = $1', ['r2']);
    const rows = await b.toObjects();
    assert.deepEqual(new Set(rows.map((r) => r.region)), new Set(['r0', 'R1', 'r3', 'r4']));
    assert.equal(rows.length, 40);
    await b.close();
  });

  it('an index lookup after an update of the indexed column returns exactly the unindexed result', async () => {
    const plain = await create().attach(ordersCsv).update({ code: "'hit'" }, 'amount = 4').filter("code = 'hit'");
    const b = await create().attach(ordersCsv, { saveAs: 'ref' }).createIndex('code').update({ code: "'hit'" }, 'amount = 4').filter("code = 'hit'");
    const want = await ids(plain);
    assert.equal(want.length, 10);
    assert.deepEqual(await ids(b), want);
    // and a value the update replaced is gone even though the index still lists it
    const gone = await create().attach(ordersCsv, { saveAs: 'ref' }).createIndex('code').update({ code: "'hit'" }, 'amount = 4').filter("code = '14'");
    assert.deepEqual(await ids(gone), []);
    await Promise.all([plain.close(), b.close(), gone.close()]);
  });

  it('an index still narrows a filter after a delete (a delete changes no value)', async () => {
    const big = await writeFixture(path.join(dir, 'big-orders.csv'), ORDERS(20_000));
    const plain = await create().attach(big, { saveAs: 'ref' }).delete('amount = 3').filter('id IN (13, 14)');
    const b = await create().attach(big, { saveAs: 'ref' }).createIndex('id').delete('amount = 3').filter('id IN (13, 14)');
    assert.deepEqual(await ids(b), [14]);
    const estimate = (plan: string) => Number(/READ_CSV[\s\S]*?~([\d,]+) rows/.exec(plan)![1]!.replaceAll(',', ''));
    const full = estimate(await plain.explain());
    const narrowed = estimate(await b.explain());
    assert.ok(narrowed * 100 < full, `indexed scan estimate ${narrowed} vs ${full}`);
    await Promise.all([plain.close(), b.close()]);
  });
});

describe('describeData', () => {
  it('matches DuckDB aggregates over the same file, in one pass', async () => {
    const b = await create().attach(orders);
    const profiles = await b.describeData();
    assert.deepEqual(profiles.map((p) => [p.name, p.type]), [['id', 'INTEGER'], ['amount', 'INTEGER'], ['status', 'VARCHAR'], ['code', 'VARCHAR'], ['score', 'DOUBLE']]);
    for (const p of profiles) {
      const c = `"${p.name}"`;
      const numeric = p.type !== 'VARCHAR';
      const [want] = await duckRows(`SELECT count(*) AS n, count(*) - count(${c}) AS nulls, approx_count_distinct(${c}) AS d, min(${c}) AS lo, max(${c}) AS hi
        ${numeric ? `, avg(${c}) AS mean, stddev_samp(${c}) AS sd` : ''} FROM '${orders}'`);
      assert.equal(p.count, Number(want!.n), p.name);
      assert.equal(p.nulls, Number(want!.nulls), p.name);
      assert.equal(p.distinct, Number(want!.d), p.name);
      assert.equal(p.min, want!.lo, p.name);
      assert.equal(p.max, want!.hi, p.name);
      assert.equal(p.mean, numeric ? Number(want!.mean) : null, p.name);
      assert.equal(p.stddev, numeric ? Number(want!.sd) : null, p.name);
    }
    await b.close();
  });

  it('profiles the pipeline (edits applied) and only the columns asked for', async () => {
    const b = await create().attach(orders).delete('amount < 5').addColumn('big', 'amount * 100');
    const [big, status] = await b.describeData(['big', 'status']);
    assert.deepEqual(big, { name: 'big', type: 'INTEGER', count: 50, nulls: 0, distinct: big!.distinct, min: 500, max: 900, mean: 700, stddev: big!.stddev });
    assert.ok(big!.distinct >= 4 && big!.distinct <= 6, `about 5 distinct values: ${big!.distinct}`);
    assert.ok(Math.abs(big!.stddev! - 142.857) < 0.01);
    assert.equal(status!.name, 'status');
    await expectError(() => b.describeData(['nope']), 'INVALID_ARGUMENT', /'nope' not found/);
    assert.deepEqual(await (await create()).describeData(), []);
    await b.close();
  });
});

describe('command line', () => {
  it('delete, update, add-column, cast-column, normalize-column-names, describe-data', async () => {
    const bundleDir = path.join(dir, 'cli');
    const run = async (...args: string[]) => {
      const r = await runCli(args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    await run('create', bundleDir);
    await run('attach', bundleDir, orders);
    assert.match(await run('delete', bundleDir, 'amount >= $1', '-p', '8'), /Delete rows where amount >= \$1/);
    assert.match(await run('update', bundleDir, '--set', "status='closed'", '--set', 'amount=amount + 1', '--where', 'id < $1', '-p', '3'), /Update status, amount where id < \$1/);
    assert.match(await run('add-column', bundleDir, 'Double Amount', 'amount * 2'), /Add column Double Amount/);
    assert.match(await run('cast-column', bundleDir, 'code', 'INTEGER', '--lenient', '--clean', '^c'), /Cast column code to INTEGER \(lenient, clean: \^c\)/);
    assert.match(await run('normalize-column-names', bundleDir), /Normalize column names/);
    assert.match(await run('delete', bundleDir, 'id = 99', '--always'), /Always delete rows where id = 99/);
    await run('commit', bundleDir, '-m', 'edits');
    await run('attach', bundleDir, later);
    const shown = await run('query', bundleDir, 'SELECT id, amount, status, double_amount FROM bundle WHERE id IN (0, 8, 99, 108) ORDER BY id', '-f', 'csv');
    assert.equal(shown.trim(), ['id,amount,status,double_amount', '0,1,closed,2', '108,8,open,16'].join('\n'));
    // a table by default
    assert.match(await run('describe-data', bundleDir, 'amount'), /column\s*│ type\s*│ count\s*│ nulls[\s\S]*amount\s*│ INTEGER\s*│\s*90\s*│\s*0/);
    const profile = await run('describe-data', bundleDir, 'amount', 'code', '-f', 'csv');
    const lines = profile.trim().split('\n');
    assert.equal(lines[0], 'column,type,count,nulls,distinct,min,max,mean,stddev');
    assert.match(lines[1]!, /^amount,INTEGER,90,0,/);
    assert.match(lines[2]!, /^code,INTEGER,90,5,/);
    const bad = await runCli(['cast-column', bundleDir, 'nope', 'INTEGER']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /'nope' not found/);
    const badSet = await runCli(['update', bundleDir, '--set', 'status']);
    assert.equal(badSet.code, 1);
    assert.match(badSet.stderr, /--set 'status'/);
  });

  it('the REPL runs the edit statements', async () => {
    const bundleDir = path.join(dir, 'repl');
    assert.equal((await runCli(['create', bundleDir])).code, 0);
    assert.equal((await runCli(['attach', bundleDir, orders])).code, 0);
    const child = spawn(process.execPath, [path.resolve('dist/cli/main.js'), 'repl', bundleDir], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, BUNDLEBASE_HISTORY: path.join(dir, 'repl-history') },
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stdin.end([
      'DELETE WHERE amount >= 8;',
      "ALWAYS UPDATE SET status = 'WHERE ' || status, code = 'c'",
      '  WHERE id < 2;',
      'ADD COLUMN "Twice Amount" AS amount * 2; CAST COLUMN score TO INTEGER LENIENT;',
      'NORMALIZE COLUMN NAMES;',
      'DESCRIBE DATA twice_amount, status;',
      'ALWAYS FROB;',
      'SELECT status, code, twice_amount FROM bundle WHERE id = 1;',
      'EXIT', '',
    ].join('\n'));
    assert.equal(await new Promise<number | null>((resolve) => child.on('close', resolve)), 0);
    for (const line of ['Delete rows where amount >= 8', 'Always update status, code where id < 2', 'Add column Twice Amount as amount * 2',
      'Cast column score to INTEGER (lenient)', 'Normalize column names']) assert.ok(output.includes(line), `${line} in ${output}`);
    assert.match(output, /twice_amount\s*│ INTEGER\s*│\s*80\s*│\s*0/);
    assert.match(output, /error: Syntax error at line 1, column 8: expected DELETE or UPDATE but found 'FROB'/);
    assert.match(output, /WHERE done\s*│ c\s*│\s*2\n/);
    assert.match((await runCli(['status', bundleDir])).stdout, /6 uncommitted change/);
  });
});
