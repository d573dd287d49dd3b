import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import * as arrow from 'apache-arrow';
import { create } from '../src/index.js';
import { directReadCount, hugeBlockCount, nativeAvailable, nativeReadCount } from '../src/engine/arrow/native.js';
import { EngineConnection } from '../src/engine/engine.js';
import { tempDir, writeFixture } from './helpers.js';

const TYPES_SQL = (ROWS: number) => `
  SELECT
    (i % 100)::TINYINT AS i8, (i % 30000)::SMALLINT AS i16, i::INTEGER AS i32, (i * 1000000000000)::BIGINT AS i64,
    (i % 200)::UTINYINT AS u8, i::UBIGINT AS u64,
    (i / 4)::FLOAT AS f32, (i / 3)::DOUBLE AS f64,
    (i % 2 = 0) AS flag,
    CASE WHEN i % 5 = 0 THEN NULL ELSE 'short' || i END AS short_text,
    repeat('long-string-', 1 + i % 3) || i AS long_text,
    (DATE '2024-02-28' + i::INTEGER) AS day,
    (TIMESTAMP '2024-03-01 12:34:56.789' + INTERVAL (i) HOUR) AS ts,
    (i * 1.25)::DECIMAL(9, 2) AS dec9,
    (i * 1.5)::DECIMAL(18, 3) AS dec18,
    (i * 2.5)::DECIMAL(30, 4) AS dec30,
    i::HUGEINT AS huge,
    CASE WHEN i % 3 = 0 THEN NULL ELSE i END AS maybe,
    encode('blob' || i) AS bin,
    TIME '10:11:12' AS t
  FROM range(${ROWS}) r(i)`;

/** Whether reads that do not ask for JS must go through the addon in this run. */
const NATIVE = nativeAvailable() && process.env.BUNDLEBASE_CONVERSION !== 'js';

/** Runs `read` and returns how many results it read through the addon. */
async function nativeReadsOf(read: () => Promise<unknown>): Promise<number> {
  const before = nativeReadCount();
  await read();
  return nativeReadCount() - before;
}

/** Runs `body` with BUNDLEBASE_CONVERSION=js / appender when `conversion` says so, restoring it after. */
async function withConversion<T>(conversion: 'native' | 'js' | 'appender', body: () => Promise<T>): Promise<T> {
  const previous = process.env.BUNDLEBASE_CONVERSION;
  if (conversion !== 'native') process.env.BUNDLEBASE_CONVERSION = conversion;
  try {
    return await body();
  } finally {
    if (previous === undefined) delete process.env.BUNDLEBASE_CONVERSION;
    else process.env.BUNDLEBASE_CONVERSION = previous;
  }
}

let file: string;
/** Enough rows for several native groups (32 768 rows each), so batches are merged from many chunks. */
let bigFile: string;
before(async () => {
  const dir = await tempDir();
  file = await writeFixture(path.join(dir, 'types.parquet'), TYPES_SQL(5000));
  bigFile = await writeFixture(path.join(dir, 'types-big.parquet'), TYPES_SQL(90_000));
});

async function convertAll(conversion: 'native' | 'js', sql = `SELECT * FROM read_parquet('${file}')`) {
  const connection = await EngineConnection.open();
  const { schema } = await connection.describe(sql, 'test');
  let used: string | undefined;
  const batches: arrow.RecordBatch[] = [];
  const stream = connection.streamArrow({ sql, params: [] }, 'test', {
    conversion,
    onStart: (reader) => {
      used = reader.conversion;
      assert.equal(String(reader.schema), String(schema)); // the result's schema is the described one
    },
  });
  for await (const group of stream) batches.push(...group);
  connection.close();
  return { table: new arrow.Table(batches), used };
}

describe('DuckDB → Arrow conversion', () => {
  it('maps DuckDB types to DuckDB\'s Arrow types', async () => {
    const b = await create().attach(file);
    const types = Object.fromEntries((await b.schema()).fields.map((f) => [f.name, String(f.type)]));
    assert.equal(types.i32, 'Int32');
    assert.equal(types.i64, 'Int64');
    assert.equal(types.f64, 'Float64');
    assert.equal(types.short_text, 'Utf8');
    assert.equal(types.day, 'Date32<DAY>');
    assert.equal(types.ts, 'Timestamp<MICROSECOND>');
    assert.equal(types.flag, 'Bool');
    assert.ok((await b.schema()).fields.every((f) => f.nullable));
    await b.close();
  });

  it('the native addon is built and used (npm install builds it on this machine)', { skip: process.env.BUNDLEBASE_SKIP_NATIVE || process.env.BUNDLEBASE_CONVERSION === 'js' ? 'native conversion disabled' : false }, async () => {
    assert.equal(nativeAvailable(), true);
    let used: string | undefined;
    assert.equal(await nativeReadsOf(async () => ({ used } = await convertAll('native'))), 1, 'one result read through the addon');
    assert.equal(used, 'native');
  });

  /** Reads `sql` both ways and checks every value of every column is the same. */
  async function sameBothWays(sql?: string) {
    const js = await convertAll('js', sql);
    assert.equal(js.used, 'js');
    const native = await convertAll('native', sql);
    // else this would compare the JS converter with itself
    if (NATIVE) assert.equal(native.used, 'native', 'the native side of the comparison was read by the addon');
    assert.equal(native.table.numRows, js.table.numRows);
    // compare logical values: what sits under a null slot is undefined in Arrow
    const logical = (v: unknown) => (v === null ? null : v instanceof Uint8Array ? Array.from(v) : typeof v === 'object' ? String(v) : v);
    for (const field of js.table.schema.fields) {
      const a = Array.from(js.table.getChild(field.name)!, logical);
      const b = Array.from(native.table.getChild(field.name)!, logical);
      assert.deepEqual(b, a, `column ${field.name}`);
      // the native reader merges chunks: the null counts it reports must be the real ones
      assert.equal(native.table.getChild(field.name)!.nullCount, js.table.getChild(field.name)!.nullCount, `null count of ${field.name}`);
    }
    assert.ok(js.table.getChild('maybe')!.nullCount > 0 && js.table.getChild('short_text')!.nullCount > 0);
    return { js, native };
  }

  it('native and pure-JS conversion give identical tables', async () => {
    const { js } = await sameBothWays();
    assert.equal(js.table.numRows, 5000);
  });

  it('chunks of odd sizes merge into larger batches with every bit, offset and null in place', async () => {
    // the filter leaves chunks of sizes that are not multiples of 8: bitmaps are merged shifted
    const { native } = await sameBothWays(`SELECT * FROM read_parquet('${bigFile}') WHERE i32 % 7 <> 3 AND NOT (i32 BETWEEN 40000 AND 40990)`);
    const kept = Array.from({ length: 90_000 }, (_, i) => i).filter((i) => i % 7 !== 3 && !(i >= 40000 && i <= 40990)).length;
    assert.equal(native.table.numRows, kept);
    if (NATIVE) assert.ok(native.table.batches.some((b) => b.numRows > 2048), 'batches span several DuckDB chunks');
  });

  it('batches that fill whole 2 MB pages live in huge pages where Linux offers them, every value intact', async () => {
    // ~118 bytes a row: a group of 16 384 rows is a block of just under 2 MB
    const sql = `SELECT i AS id, repeat(chr(65 + (i % 26)::INTEGER), 100) || i AS text FROM range(200000) r(i)`;
    const before = hugeBlockCount();
    const { table, used } = await convertAll('native', sql);
    const mapped = hugeBlockCount() - before;
    assert.equal(table.numRows, 200_000);
    const ids = table.getChild('id')!;
    const texts = table.getChild('text')!;
    for (let i = 0; i < table.numRows; i++) {
      if (ids.get(i) !== BigInt(i)) assert.fail(`id of row ${i}: ${ids.get(i)}`);
      if (texts.get(i) !== String.fromCharCode(65 + (i % 26)).repeat(100) + i) assert.fail(`text of row ${i}: ${texts.get(i)}`);
    }
    const thp = '/sys/kernel/mm/transparent_hugepage/enabled';
    const offered = existsSync(thp) && /\[(always|madvise)\]/.test(readFileSync(thp, 'utf8'));
    if (NATIVE && used === 'native' && offered) assert.ok(mapped >= 5, `${mapped} of ~12 blocks mapped as huge pages`);
    else assert.equal(mapped, 0);

    // a whole table keeps its blocks on the heap: mapping fresh huge pages for data that stays costs more
    const bundle = await create().attach(await writeFixture(path.join(await tempDir(), 'wide.parquet'), sql));
    const beforeTable = hugeBlockCount();
    const whole = await bundle.toArrow();
    assert.equal(hugeBlockCount(), beforeTable, 'toArrow mapped no huge pages');
    assert.equal(whole.numRows, 200_000);
    assert.equal(whole.getChild('text')!.get(199_999), String.fromCharCode(65 + (199_999 % 26)).repeat(100) + 199_999);
    await bundle.close();
  });

  // every column type the addon writes straight from DuckDB's vectors, with the edges of each layout
  const DIRECT_SQL = (from: string) => `
    SELECT i8, i16, i32, i64, u8, u64, f32, f64, flag, short_text, long_text, day, ts, maybe, bin, t,
      dec9, dec18, dec30, huge, (((i32 % 100) - 50) / 4)::DECIMAL(4, 2) AS dec4, (-dec9)::DECIMAL(9, 2) AS neg9,
      (-dec18)::DECIMAL(18, 3) AS neg18, (-dec30)::DECIMAL(30, 4) AS neg30, -huge AS neg_huge,
      (i32 % 60000)::USMALLINT AS u16, i32::UINTEGER AS u32,
      (TIMESTAMPTZ '2024-01-01 00:00:00+00' + INTERVAL (i32) SECOND) AS tstz,
      ts::TIMESTAMP_S AS ts_s, ts::TIMESTAMP_MS AS ts_ms, ts::TIMESTAMP_NS AS ts_ns,
      CASE WHEN i32 % 4 = 0 THEN NULL ELSE i32 % 3 = 0 END AS maybe_flag,
      repeat('x', i32 % 15) AS around_inline, NULL::VARCHAR AS nothing, CASE WHEN i32 % 2 = 0 THEN '' END AS empty_or_null,
      CASE WHEN i32 % 9 = 0 THEN NULL ELSE repeat('ü', i32 % 20) END AS multibyte
    FROM ${from}`;

  it('columns DuckDB already holds in Arrow layout are written straight from its vectors, value for value', async () => {
    const before = directReadCount();
    const { native } = await sameBothWays(DIRECT_SQL(`read_parquet('${bigFile}') WHERE i32 % 7 <> 3 AND NOT (i32 BETWEEN 40000 AND 40990)`));
    if (NATIVE) assert.equal(directReadCount() - before, 1, 'read straight from the vectors');
    assert.equal(native.table.getChild('nothing')!.nullCount, native.table.numRows);
    // and the same as DuckDB's own Arrow appender writes them
    const appender = await withConversion('appender', () => convertAll('native', DIRECT_SQL(`read_parquet('${file}')`)));
    const direct = await convertAll('native', DIRECT_SQL(`read_parquet('${file}')`));
    for (const field of direct.table.schema.fields) {
      assert.deepEqual(Array.from(direct.table.getChild(field.name)!, String), Array.from(appender.table.getChild(field.name)!, String), `column ${field.name}`);
    }
  });

  it('a read with a column of any other type goes through DuckDB\'s Arrow appender', async () => {
    const before = directReadCount();
    const reads = await nativeReadsOf(() => sameBothWays(`SELECT *, ('00000000-0000-0000-0000-' || lpad(i32::VARCHAR, 12, '0'))::UUID AS uuid FROM read_parquet('${file}')`));
    assert.equal(directReadCount() - before, 0, 'a UUID (exported as text) is not written from the vectors');
    if (NATIVE) assert.ok(reads > 0, 'read by the addon');
  });

  for (const conversion of ['native', 'js'] as const) {
    it(`toObjects follows the README value mapping (${conversion})`, async () => {
      await withConversion(conversion, async () => {
        const b = await create().attach(file).filter('i32 IN (0, 7)');
        let rows: Record<string, unknown>[] = [];
        const native = await nativeReadsOf(async () => (rows = await b.toObjects()));
        assert.equal(native > 0, conversion === 'native' && NATIVE, `read through the addon ${native} time(s)`);
        const zero = rows.find((r) => r.i32 === 0);
        const seven = rows.find((r) => r.i32 === 7);
        assert.equal(rows.length, 2);
        assert.deepEqual(seven, {
          i8: 7, i16: 7, i32: 7, i64: 7000000000000n, u8: 7, u64: 7n,
          f32: 1.75, f64: 7 / 3, flag: false,
          short_text: 'short7', long_text: 'long-string-long-string-7',
          day: new Date(Date.UTC(2024, 2, 6)),
          ts: new Date(Date.UTC(2024, 2, 1, 19, 34, 56, 789)),
          dec9: 8.75, dec18: 10.5, dec30: 17.5, huge: 7,
          maybe: 7n, bin: seven!.bin, t: seven!.t,
        });
        assert.equal(zero!.short_text, null);
        assert.equal(zero!.maybe, null);
        assert.equal(zero!.flag, true);
        await b.close();
      });
    });
  }

  for (const conversion of ['native', 'js'] as const) {
    it(`negative decimals and large strings survive (${conversion})`, async () => {
      const neg = path.join(await tempDir(), 'neg.parquet');
      await writeFixture(neg, `SELECT i AS i, (-i * 1.5)::DECIMAL(9,2) AS d, (-i)::DECIMAL(38,0) AS big, repeat('x', 100000) AS s FROM range(3) r(i)`);
      await withConversion(conversion, async () => {
        const b = await create().attach(neg);
        let rows: Record<string, unknown>[] = [];
        const native = await nativeReadsOf(async () => (rows = await b.toObjects()));
        assert.equal(native > 0, conversion === 'native' && NATIVE, `read through the addon ${native} time(s)`);
        rows.sort((x, y) => Number(x.i) - Number(y.i));
        assert.deepEqual(rows.map((r) => r.d), [0, -1.5, -3]);
        assert.deepEqual(rows.map((r) => r.big), [0, -1, -2]);
        assert.ok(rows.every((r) => r.s === 'x'.repeat(100000)));
        await b.close();
      });
    });
  }
});
