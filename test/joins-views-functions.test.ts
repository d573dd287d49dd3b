import assert from 'node:assert/strict';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { before, describe, it } from 'node:test';
import * as arrow from 'apache-arrow';
import { create, open } from '../src/index.js';
import { expectError, operationsOf, readCommit, tempDir, writeFixture } from './helpers.js';

let dir: string;
let sales: string;
let regions: string;
let regions2: string;

before(async () => {
  dir = await tempDir();
  sales = await writeFixture(path.join(dir, 'sales.csv'), `SELECT i AS id, 'c' || (i % 4) AS "Country", i * 10 AS amount FROM range(12) t(i)`);
  regions = await writeFixture(path.join(dir, 'regions.parquet'), `SELECT 'c' || i AS "Country", 'region-' || i AS region FROM range(2) t(i)`);
  regions2 = await writeFixture(path.join(dir, 'regions2.csv'), `SELECT 'c2' AS "Country", 'region-2' AS region`);
});

describe('joins', () => {
  const counts = { inner: 6, left: 12, right: 6, full: 12 } as const;
  for (const [how, rows] of Object.entries(counts)) {
    it(`${how} join on $base, with the joined columns after the bundle's (clash → _1)`, async () => {
      const b = await create().attach(sales).join('regions', regions, '$base."Country" = regions."Country"', how);
      assert.deepEqual((await b.schema()).fields.map((f) => f.name), ['id', 'Country', 'amount', 'Country_1', 'region']);
      const rowsOut = await b.toObjects();
      assert.equal(rowsOut.length, rows);
      const byId = new Map(rowsOut.map((r) => [Number(r.id), r.region]));
      assert.equal(byId.get(5), 'region-1');
      if (how === 'left' || how === 'full') assert.equal(byId.get(2), null);
      assert.equal(b.status().changes.at(-1)!.description, 'Join regions');
      await b.close();
    });
  }

  it('accepts bundle as an alias of $base, and attach({ join }) adds sources to the join', async () => {
    const b = await create().attach(sales).join('regions', regions, 'bundle."Country" = regions."Country"').attach(regions2, { join: 'regions' });
    const regionsSeen = new Set((await b.toObjects()).map((r) => r.region));
    assert.deepEqual([...regionsSeen].sort(), ['region-0', 'region-1', 'region-2']);
    assert.equal(await b.numRows(), 9);
    await b.close();
  });

  it('is recorded as definePack + attachBlock + join, and replays on open', async () => {
    const bundleDir = path.join(dir, 'joined');
    const b = await create(bundleDir).attach(sales).join('regions', regions, '$base."Country" = regions."Country"', 'left');
    await b.commit('joined');
    const ops = operationsOf((await readCommit(bundleDir)).doc);
    const join = ops.find((o) => o.type === 'join')!;
    assert.deepEqual({ name: join.name, joinType: join.joinType, expression: join.expression }, { name: 'regions', joinType: 'Left', expression: '$base."Country" = regions."Country"' });
    // the pack id is random (it may be written quoted): check what it refers to, not its spelling
    const packs = ops.filter((o) => o.type === 'definePack').map((o) => o.id);
    assert.equal(packs.length, 2);
    assert.equal(typeof join.packId, 'string');
    assert.equal(join.packId, packs[1], "the join's own pack, not the bundle's");
    const r = await open(bundleDir);
    assert.equal(await r.numRows(), 12);
    assert.deepEqual(r.operations().map((o) => o.type), ['definePack', 'attachBlock', 'definePack', 'attachBlock', 'join']);
    await Promise.all([b.close(), r.close()]);
  });

  it('bad joins are clear errors that change nothing', async () => {
    const b = await create().attach(sales);
    await expectError(() => b.join('regions', regions, '$base.nope = regions."Country"'), 'SQL_ERROR', /nope/);
    await expectError(() => b.join('regions', regions, '$base."Country" = regions."Country"', 'sideways'), 'INVALID_ARGUMENT', /sideways/);
    await expectError(() => b.join('regions', path.join(dir, 'missing.csv'), 'true'), 'NOT_FOUND', /missing\.csv/);
    await expectError(() => b.attach(regions2, { join: 'nope' }), 'NOT_FOUND', /Join 'nope'/);
    await b.join('regions', regions, '$base."Country" = regions."Country"');
    await expectError(() => b.join('regions', regions, 'true'), 'INVALID_ARGUMENT', /already exists/);
    assert.equal(b.status().changes.length, 2);
    await expectError(async () => (await create()).join('x', regions, 'true'), 'INVALID_ARGUMENT', /attach a source/);
    await b.close();
  });
});

describe('views', () => {
  async function withView(name: string) {
    const bundleDir = path.join(dir, name);
    const b = await create(bundleDir).attach(sales);
    const adults = await b.select('SELECT id, amount FROM bundle WHERE amount >= $1', [50]);
    await b.createView('big', adults);
    await b.commit('with view');
    return { bundleDir, b };
  }

  it('createView stores view_<id>/ extending the parent; view() opens it read-only', async () => {
    const { bundleDir, b } = await withView('views-basic');
    const views = b.views();
    assert.equal(views.size, 1);
    const [[id, name]] = [...views];
    assert.equal(name, 'big');
    const init = await readFile(path.join(bundleDir, `view_${id}`, '_bundlebase', '00000000000000000.yaml'), 'utf8');
    assert.equal(init.trim(), 'from: ..', 'a view names its parent relatively, so the bundle can move');
    const r = await open(bundleDir);
    for (const key of ['big', id!]) {
      const v = await r.view(key);
      assert.deepEqual((await v.toColumns()).id!.map(Number), [5, 6, 7, 8, 9, 10, 11]);
      assert.deepEqual(v.operations().map((o) => o.type), ['definePack', 'attachBlock', 'createView', 'select']);
    }
    await b.close();
  });

  it('a view reflects later commits to its parent', async () => {
    const { bundleDir, b } = await withView('views-follow');
    const more = await writeFixture(path.join(dir, 'more-sales.csv'), `SELECT 100 + i AS id, 'c1' AS "Country", 1000 AS amount FROM range(3) t(i)`);
    const e = await (await open(bundleDir)).extend().attach(more);
    await e.commit('more sales');
    const v = await (await open(bundleDir)).view('big');
    assert.equal(await v.numRows(), 7 + 3);
    await Promise.all([b.close(), e.close()]);
  });

  it('renameView and dropView; duplicates and unknown views are clear errors', async () => {
    const { bundleDir, b } = await withView('views-rename');
    await expectError(() => b.createView('big', b), 'INVALID_ARGUMENT', /View 'big' already exists/);
    await expectError(() => b.view('nope'), 'NOT_FOUND', /View 'nope' not found; available: big \(\w+\)/);
    await expectError(() => b.renameView('nope', 'x'), 'NOT_FOUND', /View 'nope' not found/);
    await b.renameView('big', 'large');
    assert.deepEqual([...b.views().values()], ['large']);
    await b.commit('renamed');
    assert.equal(await (await (await open(bundleDir)).view('large')).numRows(), 7);
    await b.dropView('large');
    assert.equal(b.views().size, 0);
    await b.commit('dropped');
    await expectError(async () => (await open(bundleDir)).view('large'), 'NOT_FOUND', /available: none/);
    await b.close();
  });

  it('a builder extended from a view is a view: attach, join and view operations are refused', async () => {
    const { bundleDir, b } = await withView('views-readonly');
    const v = await (await open(bundleDir)).view('big');
    const e = await v.extend();
    await expectError(() => e.attach(sales), 'INVALID_ARGUMENT', /not allowed on a view/);
    await expectError(() => e.join('r', regions, 'true'), 'INVALID_ARGUMENT', /not allowed on a view/);
    await expectError(() => e.createView('x', e), 'INVALID_ARGUMENT', /not allowed on a view/);
    await expectError(() => e.dropView('big'), 'INVALID_ARGUMENT', /not allowed on a view/);
    await e.filter('amount < 100');
    assert.equal(await e.numRows(), 5);
    await b.close();
  });

  it('views are queryable by name in select(), with their parameters, from views and extending bundles too', async () => {
    const { bundleDir, b } = await withView('views-by-name');
    // the view's own $1 (50) and the select's $1 (100) are numbered apart
    const rows = await (await open(bundleDir)).select('SELECT count(*) AS n FROM big WHERE amount < $1', [100]);
    assert.deepEqual(await rows.toObjects(), [{ n: 5n }]);
    // a view made of a view, referring to it by name (quoted too)
    await b.createView('bigger', await b.select('SELECT * FROM "big" WHERE amount >= 100'));
    await b.commit('view of a view');
    const r = await open(bundleDir);
    assert.equal(await (await r.view('bigger')).numRows(), 2);
    assert.deepEqual(await (await r.select('SELECT count(*) AS n FROM bigger JOIN big USING (id)')).toObjects(), [{ n: 2n }]);
    // a bundle extending this one sees its views by name
    const ext = await r.extend(path.join(dir, 'views-by-name-ext'));
    assert.equal(await (await ext.select('SELECT * FROM BIG')).numRows(), 7);
    assert.equal(await (await ext.view('big')).numRows(), 7);
    // a column or string that merely contains a view's name binds nothing wrong
    assert.equal(await (await r.select("SELECT 'big' AS big_text, amount AS bigness FROM bundle")).numRows(), 12);
    await expectError(async () => (await r.select('SELECT * FROM nope')).toObjects(), 'SQL_ERROR', /nope/);
    await Promise.all([b.close(), r.close(), ext.close()]);
  });

  it('createView needs a builder made from this bundle', async () => {
    const b = await create().attach(sales);
    const other = await create().attach(regions);
    await expectError(() => b.createView('x', other), 'INVALID_ARGUMENT', /made from this bundle/);
    await Promise.all([b.close(), other.close()]);
  });
});

describe('function sources', () => {
  it('pages are pulled in sequence, lazily, and rows are cast to the declared types', async () => {
    const pages: number[] = [];
    const b = await create().defineFunction({
      name: 'numbers',
      output: { n: 'Int64', label: 'Utf8', half: 'Float64' },
      fn: (page, schema) => {
        pages.push(page);
        assert.deepEqual(schema.fields.map((f) => f.name), ['n', 'label', 'half']);
        if (page === 3) return null;
        return Array.from({ length: 3000 }, (_, i) => ({ n: page * 3000 + i, label: `#${page * 3000 + i}`, half: (page * 3000 + i) / 2 }));
      },
    }).attach('function://numbers');
    assert.deepEqual(pages, [], 'attaching does not call fn');
    assert.deepEqual((await b.schema()).fields.map((f) => `${f.name}:${f.type}`), ['n:Int64', 'label:Utf8', 'half:Float64']);
    assert.equal(await b.numRows(), 9000);
    assert.deepEqual(pages, [0, 1, 2, 3]);
    await b.filter('n IN (1, 8999)');
    const rows = await b.toObjects();
    assert.deepEqual(rows, [{ n: 1n, label: '#1', half: 0.5 }, { n: 8999n, label: '#8999', half: 4499.5 }]);
    await b.close();
  });

  it('text arrives exactly: NULLs, empty, multi-byte, inlined and long strings, across chunk boundaries', async () => {
    // 12 bytes and less are inlined by DuckDB, longer ones go to its heap; > 1 KB takes the addon's long path
    const text = (i: number) => (i % 7 === 0 ? null : i % 11 === 0 ? '' : i % 5 === 0 ? `é漢🙂-${i}` : i % 3 === 0 ? 'x'.repeat(1500 + i) : `v${i}`);
    const b = await create().defineFunction({
      name: 'texts',
      output: { i: 'Int32', t: 'Utf8' },
      fn: (page) => (page < 3 ? Array.from({ length: 2500 }, (_, k) => ({ i: page * 2500 + k, t: text(page * 2500 + k) })) : null),
    }).attach('function://texts');
    const rows = await b.toObjects();
    assert.equal(rows.length, 7500);
    for (const row of rows) assert.equal(row.t, text(row.i as number), `row ${String(row.i)}`);
    await b.close();
  });

  it('Int64 and Float64 values of every JS shape arrive exactly, NULLs only where given, across chunks', async () => {
    // numbers are written as two 32-bit words (no BigInt): signs, word boundaries and the safe range matter
    const ints: unknown[] = [0, -0, 1, -1, 2 ** 31, -(2 ** 31), 2 ** 32, -(2 ** 32) - 1, -5e9, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1.7, -1.7, 2n ** 63n - 1n, -(2n ** 63n), '42', null, undefined, 2 ** 60];
    const int = (i: number) => ints[i % ints.length];
    const real = (i: number) => (i % 13 === 0 ? null : i % 17 === 0 ? '2.5' : i / 4 - 100);
    // page 0 has NULLs in its first chunk, page 1 none in its chunk after: a chunk's validity must not carry over
    const rowsOf = (page: number) => Array.from({ length: 2100 }, (_, k) => {
      const i = page * 2100 + k;
      return page === 1 && k >= 100 ? { i, n: i, x: i / 4 - 100 } : { i, n: int(i), x: real(i) };
    });
    const b = await create().defineFunction({
      name: 'wide_numbers',
      output: { i: 'Int32', n: 'Int64', x: 'Float64' },
      fn: (page) => (page < 2 ? rowsOf(page) : null),
    }).attach('function://wide_numbers');
    const rows = await b.toObjects();
    assert.equal(rows.length, 4200);
    for (const row of rows) {
      const source = rowsOf(Math.floor((row.i as number) / 2100))[(row.i as number) % 2100]!;
      const n = source.n === null || source.n === undefined ? null : typeof source.n === 'bigint' ? source.n : BigInt(Math.trunc(Number(source.n)));
      assert.equal(row.n, n, `n of row ${String(row.i)}`);
      assert.equal(row.x, source.x === null ? null : Number(source.x), `x of row ${String(row.i)}`);
    }
    await b.close();
  });

  it('accepts RecordBatches', async () => {
    const b = await create().defineFunction({
      name: 'batches',
      output: { x: 'Int32', y: 'Utf8' },
      fn: (page) => (page < 2 ? arrow.tableFromArrays({ x: Int32Array.from([page, page + 10]), y: [`a${page}`, `b${page}`] }).batches[0]! : null),
    }).attach('function://batches');
    assert.deepEqual(await b.toObjects(), [{ x: 0, y: 'a0' }, { x: 10, y: 'b0' }, { x: 1, y: 'a1' }, { x: 11, y: 'b1' }]);
    await b.close();
  });

  it('persists the signature; opening without the implementation works, reading names the function', async () => {
    const bundleDir = path.join(dir, 'functions');
    const b = await create(bundleDir).defineFunction({ name: 'later', output: { v: 'Int32' }, fn: (p) => (p ? null : [{ v: 1 }]), version: '1' }).attach('function://later');
    await b.commit('fn');
    const ops = operationsOf((await readCommit(bundleDir)).doc);
    // version '1' must stay a string (unquoted YAML would read it back as the number 1)
    assert.deepEqual(ops.find((o) => o.type === 'defineFunction')!.signature, { name: 'later', output: { v: 'Int32' }, version: '1' });
    assert.equal(ops.find((o) => o.type === 'attachBlock')!.source, 'function://later');
    // a different implementation under the same name replaces it everywhere
    await (await create()).defineFunction({ name: 'later', output: { v: 'Int32' }, fn: (p) => (p ? null : [{ v: 2 }, { v: 3 }]) });
    const r = await open(bundleDir);
    assert.deepEqual(await r.toObjects(), [{ v: 2 }, { v: 3 }]);
    await Promise.all([b.close(), r.close()]);
  });

  it('bad definitions and undefined functions are clear errors', async () => {
    const b = await create();
    await expectError(() => b.defineFunction({ name: 'bad', output: { v: 'Integer42' }, fn: () => null }), 'INVALID_ARGUMENT', /Integer42/);
    await expectError(() => b.defineFunction({ name: 'bad', output: {}, fn: () => null }), 'INVALID_ARGUMENT', /output/);
    await expectError(() => b.attach('function://never_defined'), 'NOT_FOUND', /never_defined/);
    assert.equal(b.status().changes.length, 0);
    await b.close();
  });

  /** Runs `read` with the addon's table function and with @duckdb/node-api's (BUNDLEBASE_CONVERSION=js). */
  async function bothWays(read: (conversion: string) => Promise<void>): Promise<void> {
    for (const conversion of ['native', 'js']) {
      const previous = process.env.BUNDLEBASE_CONVERSION;
      if (conversion === 'js') process.env.BUNDLEBASE_CONVERSION = 'js';
      try {
        await read(conversion);
      } finally {
        if (previous === undefined) delete process.env.BUNDLEBASE_CONVERSION;
        else process.env.BUNDLEBASE_CONVERSION = previous;
      }
    }
  }

  it('every declared type arrives, NULLs where given, from pages of uneven sizes with an empty one among them, natively and in pure JS', async () => {
    const base = Date.UTC(2020, 0, 1);
    const row = (i: number) => ({
      b: i % 2 === 0, i8: (i % 200) - 100, i16: i - 3000, i32: i * 1000, i64: i * 1e6, u8: i % 256, u16: i, u32: i * 7, u64: BigInt(i) * 2n ** 40n,
      f32: i / 2, f64: i / 3, s: i % 5 === 0 ? `é${i}` : `s${i}`, bin: Uint8Array.from([i % 256, 1]), d: new Date(base + i * 86_400_000), ts: new Date(base + i * 1000),
    });
    const output = { b: 'Boolean', i8: 'Int8', i16: 'Int16', i32: 'Int32', i64: 'Int64', u8: 'UInt8', u16: 'UInt16', u32: 'UInt32', u64: 'UInt64', f32: 'Float32', f64: 'Float64', s: 'Utf8', bin: 'Binary', d: 'Date32', ts: 'Timestamp' };
    // every 7th row is all NULL (given as null), every 7th + 3 all missing (undefined)
    const given = (i: number) => (i % 7 === 0 ? Object.fromEntries(Object.keys(output).map((k) => [k, null])) : i % 7 === 3 ? {} : row(i));
    const expected = (i: number) => (i % 7 === 0 || i % 7 === 3 ? Object.fromEntries(Object.keys(output).map((k) => [k, null])) : { ...row(i), i64: BigInt(i * 1e6) });
    // a page smaller than a chunk, an empty one, one a row over a chunk, one of 3, one of two chunks and a bit
    const sizes = [1, 0, 2049, 3, 4100];
    const starts = sizes.map((_, p) => sizes.slice(0, p).reduce((a, n) => a + n, 0));
    await bothWays(async (conversion) => {
      const b = await create().defineFunction({
        name: `all_types_${conversion}`, // registered per name: one per conversion
        output,
        fn: (page) => (page < sizes.length ? Array.from({ length: sizes[page]! }, (_, k) => given(starts[page]! + k)) : null),
      }).attach(`function://all_types_${conversion}`);
      const rows = await b.toObjects();
      assert.equal(rows.length, 1 + 2049 + 3 + 4100);
      rows.forEach((r, i) => assert.deepEqual(r, expected(i), `${conversion}: row ${i}`));
      await b.close();
    });
  });

  it('breaking out of a stream stops the calls: pages are pulled only a bounded way ahead', async () => {
    await bothWays(async (conversion) => {
      let calls = 0;
      const b = await create().defineFunction({
        name: `endless_${conversion}`,
        output: { n: 'Int64', t: 'Utf8' },
        fn: (page) => {
          calls++;
          return Array.from({ length: 1000 }, (_, k) => ({ n: page * 1000 + k, t: `row ${k}` }));
        },
      }).attach(`function://endless_${conversion}`);
      let seen = 0;
      for await (const batch of b.stream()) {
        seen += batch.numRows;
        break;
      }
      await b.close();
      const atClose = calls;
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok(seen > 0);
      // DuckDB buffers some rows ahead of the reader (about 1 MB) and a page or two are pulled ahead: far from endless
      assert.ok(atClose < 200, `${conversion}: ${atClose} pages were pulled for one batch`);
      assert.ok(calls <= atClose + 2, `${conversion}: ${calls - atClose} pages were pulled after close`);
    });
  });

  it('an error thrown mid-stream (after rows were streamed) ends the stream with a BundlebaseError naming the function', async () => {
    await bothWays(async (conversion) => {
      const b = await create().defineFunction({
        name: `fails_later_${conversion}`,
        output: { n: 'Int32', t: 'Utf8' },
        fn: (page) => {
          if (page === 6) throw new Error('upstream went away');
          return Array.from({ length: 5000 }, (_, k) => ({ n: page * 5000 + k, t: `v${k}` }));
        },
      }).attach(`function://fails_later_${conversion}`);
      let seen = 0;
      await expectError(async () => {
        for await (const batch of b.stream()) seen += batch.numRows;
      }, 'SQL_ERROR', new RegExp(`fails_later_${conversion}[\\s\\S]*upstream went away`));
      assert.ok(seen <= 30_000, `${conversion}: ${seen} rows streamed`);
      await b.close();
    });
  });

  it('a value that does not fit its column fails the read naming the column; two reads of one function interleave', async () => {
    const b = await create().defineFunction({
      name: 'too_big',
      output: { small: 'Int8' },
      fn: (page) => (page === 0 ? [{ small: 1 }, { small: 300 }] : null),
    }).attach('function://too_big');
    await expectError(() => b.toObjects(), 'SQL_ERROR', /too_big[\s\S]*300 does not fit column 'small'/);
    const counter = await create().defineFunction({
      name: 'counter',
      output: { n: 'Int32', t: 'Utf8' },
      fn: (page) => (page < 4 ? Array.from({ length: 3000 }, (_, k) => ({ n: page * 3000 + k, t: `n${page * 3000 + k}` })) : null),
    }).attach('function://counter');
    const first = counter.stream()[Symbol.asyncIterator]();
    const second = counter.stream()[Symbol.asyncIterator]();
    const sums = [0, 0];
    for (let done = [false, false]; !done[0] || !done[1];) {
      for (const [i, reader] of [first, second].entries()) {
        if (done[i]) continue;
        const next = await reader.next();
        if (next.done) done[i] = true;
        else for (const row of next.value) sums[i]! += Number(row.n) + (row.t === `n${row.n}` ? 0 : 1e9);
      }
    }
    assert.deepEqual(sums, [(12_000 * 11_999) / 2, (12_000 * 11_999) / 2]);
    await Promise.all([b.close(), counter.close()]);
  });

  it('a bundle reading only function sources runs at 1 DuckDB thread; with a file source, at the default', async () => {
    const threads = async (b: Awaited<ReturnType<typeof create>>) => Number((await b.addColumn('threads', "current_setting('threads')").toObjects())[0]!.threads);
    const only = await create().defineFunction({ name: 'one_row', output: { v: 'Int32' }, fn: (p) => (p ? null : [{ v: 1 }]) }).attach('function://one_row');
    assert.equal(await threads(only), 1);
    const mixed = await create().attach(sales).attach('function://one_row');
    const defaultThreads = Number((await (await create().attach(sales).addColumn('threads', "current_setting('threads')")).toObjects())[0]!.threads);
    assert.equal(await threads(mixed), defaultThreads);
    await Promise.all([only.close(), mixed.close()]);
  });

  it('a function that throws fails the read with its message', async () => {
    const b = await create().defineFunction({ name: 'thrower', output: { v: 'Int32' }, fn: (page) => { if (page === 1) throw new Error('upstream down'); return [{ v: page }]; } }).attach('function://thrower');
    await expectError(() => b.toObjects(), 'SQL_ERROR', /upstream down/);
    await b.close();
  });
});
