// Unit tests of the index file layout (src/indexing/file.ts) on a temp directory: no DuckDB.
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFile, writeFile } from 'node:fs/promises';
import { before, describe, it } from 'node:test';
import { lookupIndexFile, readIndexHeader, writeIndexFile, type SectionInfo } from '../src/indexing/file.js';
import { NumericLiteral } from '../src/plan/equalities.js';
import { canonical, hashText, textHash, type RecordEntries } from '../src/indexing/scan.js';
import { expectError, tempDir } from './helpers.js';

let dir: string;
before(async () => {
  dir = await tempDir('bundlebase-index-file-');
});

let files = 0;
const fresh = () => path.join(dir, `idx_test_${files++}.idx`);

/** Entries as the scanner makes them: record i holds values[i] at offset 100·i, 10 + i bytes long. */
function entriesOf(values: string[], kind: 'integer' | 'string' | 'float64', hash = (v: string) => textHash(v, kind)): RecordEntries {
  return {
    hashes: Uint32Array.from(values, hash),
    offsets: Float64Array.from(values, (_, i) => 100 * i),
    lengths: Uint32Array.from(values, (_, i) => 10 + i),
    count: values.length,
  };
}

/** The byte ranges of the records holding one of `wanted` (by canonical text): what a lookup must return at least. */
function rangesOf(values: string[], kind: 'integer' | 'string', wanted: string[]): [number, number][] {
  const keys = new Set(wanted.map((w) => canonical(w, kind)));
  return values.flatMap((v, i) => (keys.has(canonical(v, kind)) ? [[100 * i, 10 + i] as [number, number]] : []));
}

// 7 entries (odd: its u32 arrays need padding before the f64 offsets), duplicates and sign noise
const NUMBERS = ['5', '42', '7', '0042', '-3', '+7', '5'];
const TEXTS = ['name "5", x', 'naïve', '名前', '', 'name "5", x', "it's"];
const numbers: SectionInfo = { id: 'block-n', version: '1700000000-123', kind: 'integer', columns: [['id', 'BIGINT'], ['name', 'VARCHAR']], csv: { delimiter: ',', quote: '"', header: true }, readOptions: "delim = ',', header = true" };
const texts: SectionInfo = { id: 'block-t', version: '1700000001-456', kind: 'string', columns: [['name', 'VARCHAR']] };

async function writeBoth(): Promise<string> {
  const file = fresh();
  await writeIndexFile(file, 'id', [{ ...numbers, entries: entriesOf(NUMBERS, 'integer') }, { ...texts, entries: entriesOf(TEXTS, 'string') }]);
  return file;
}

describe('index file round trip', () => {
  it('writeIndexFile returns the distinct hashes; readIndexHeader gives back the column and every section', async () => {
    const file = fresh();
    const distinct = await writeIndexFile(file, 'id', [{ ...numbers, entries: entriesOf(NUMBERS, 'integer') }, { ...texts, entries: entriesOf(TEXTS, 'string') }]);
    // integers by canonical value: 5, 42, 7, -3 (0042 is 42, +7 is 7); texts: 5 distinct
    assert.equal(distinct, 4 + 5);
    const header = await readIndexHeader(file);
    assert.equal(header.column, 'id');
    assert.deepEqual(header.blocks.map((b) => b.id), ['block-n', 'block-t']);
    const [n, t] = header.blocks;
    assert.deepEqual({ id: n!.id, version: n!.version, kind: n!.kind, columns: n!.columns, csv: n!.csv, readOptions: n!.readOptions }, numbers);
    assert.deepEqual({ id: t!.id, version: t!.version, kind: t!.kind, columns: t!.columns }, texts);
    assert.equal(t!.csv, undefined);
    assert.deepEqual([n!.count, n!.distinct, t!.count, t!.distinct], [7, 4, 6, 5]);
  });

  it('lays out "BBIDX001", the header length, the JSON header and 8-byte aligned arrays', async () => {
    const file = await writeBoth();
    const bytes = await readFile(file);
    assert.equal(bytes.subarray(0, 8).toString('latin1'), 'BBIDX001');
    const headerLength = bytes.readUInt32LE(8);
    const base = 12 + headerLength;
    assert.equal(base % 8, 0, 'the arrays start 8-byte aligned');
    const header = JSON.parse(bytes.subarray(12, base).toString('utf8'));
    assert.deepEqual(header, await readIndexHeader(file));
    for (const s of header.blocks as { count: number; hashesAt: number; offsetsAt: number; lengthsAt: number }[]) {
      assert.equal(s.offsetsAt % 8, 0, 'f64 offsets are aligned');
      assert.ok(s.offsetsAt >= s.hashesAt + s.count * 4 && s.lengthsAt >= s.offsetsAt + s.count * 8);
      const hashes = Array.from({ length: s.count }, (_, i) => bytes.readUInt32LE(base + s.hashesAt + i * 4));
      assert.deepEqual(hashes, [...hashes].sort((a, b) => a - b), 'hashes are stored sorted');
    }
    const last = header.blocks.at(-1)!;
    assert.ok(bytes.length >= base + last.lengthsAt + last.count * 4, 'the file holds every array');
  });

  it('looks values up per block: every record of each value, sorted by offset', async () => {
    const file = await writeBoth();
    const found = await lookupIndexFile(file, [5, 7]);
    assert.deepEqual([...found.keys()], ['block-n'], 'numbers are not looked up in a text block');
    const n = found.get('block-n')!;
    // hashes may collide, so a lookup returns a superset: it must include these, sorted
    for (const range of rangesOf(NUMBERS, 'integer', ['5', '7'])) assert.ok(n.ranges.some((r) => r[0] === range[0] && r[1] === range[1]), `record at ${range[0]}`);
    assert.deepEqual(n.ranges, rangesOf(NUMBERS, 'integer', ['5', '7']), 'no collisions among these few values');
    assert.deepEqual(n.ranges.map((r) => r[0]), [...n.ranges.map((r) => r[0])].sort((a, b) => a - b));
    assert.deepEqual({ id: n.id, version: n.version, kind: n.kind, columns: n.columns, csv: n.csv, readOptions: n.readOptions }, numbers, 'the section comes back with the ranges');
  });

  it('matches integers by canonical value: text parameters, leading zeros, signs', async () => {
    const file = await writeBoth();
    assert.deepEqual((await lookupIndexFile(file, ['0042'])).get('block-n')!.ranges, rangesOf(NUMBERS, 'integer', ['42']));
    assert.deepEqual((await lookupIndexFile(file, [42n])).get('block-n')!.ranges, [[100, 11], [300, 13]]);
    assert.deepEqual((await lookupIndexFile(file, [-3])).get('block-n')!.ranges, [[400, 14]]);
    assert.deepEqual((await lookupIndexFile(file, ['+7'])).get('block-n')!.ranges, [[200, 12], [500, 15]]);
    // SQL literals: an integer exactly, a decimal with a zero fraction as its integer (DuckDB compares
    // BIGINT with DECIMAL exactly), any other decimal equals no integer (read in full)
    assert.deepEqual((await lookupIndexFile(file, [new NumericLiteral('0042')])).get('block-n')!.ranges, rangesOf(NUMBERS, 'integer', ['42']));
    assert.deepEqual((await lookupIndexFile(file, [new NumericLiteral('42.000')])).get('block-n')!.ranges, rangesOf(NUMBERS, 'integer', ['42']));
    assert.equal((await lookupIndexFile(file, [new NumericLiteral('42.5')])).has('block-n'), false);
    // a double past 2^53 equals several integers once DuckDB converts them: read in full
    assert.equal((await lookupIndexFile(file, [2 ** 60])).has('block-n'), false);
  });

  it('looks text up exactly: quotes, commas, unicode and the empty string', async () => {
    const file = await writeBoth();
    const text = async (v: string) => (await lookupIndexFile(file, [v])).get('block-t')!.ranges;
    assert.deepEqual(await text('name "5", x'), [[0, 10], [400, 14]]);
    assert.deepEqual(await text('名前'), [[200, 12]]);
    assert.deepEqual(await text('naïve'), [[100, 11]]);
    assert.deepEqual(await text(''), [[300, 13]]);
    assert.deepEqual(await text("it's"), [[500, 15]]);
    assert.deepEqual(await text('NAÏVE'), [], 'case matters');
  });

  it('a value in no record gives a block with no ranges (nothing to read), not a missing block', async () => {
    const file = await writeBoth();
    const found = await lookupIndexFile(file, ['nowhere']);
    assert.deepEqual(found.get('block-t')!.ranges, []);
    assert.equal(found.has('block-n'), false, "'nowhere' is no integer: the integer block cannot be narrowed");
    assert.deepEqual((await lookupIndexFile(file, [123456])).get('block-n')!.ranges, []);
  });

  it('leaves out (reads in full) a block its values cannot be compared with by text', async () => {
    const file = await writeBoth();
    // 5.5 against integers, and any number against text (DuckDB casts the column: '05' = 5)
    const found = await lookupIndexFile(file, [5.5]);
    assert.equal(found.has('block-n'), false);
    assert.equal(found.has('block-t'), false);
    assert.equal((await lookupIndexFile(file, [5])).has('block-t'), false);
    // one such value among others is enough to read the block in full
    assert.equal((await lookupIndexFile(file, [5, 5.5])).has('block-n'), false);
  });

  it('matches DOUBLE columns by value (numbers, bigints, text, SQL literals) with the unread records, and files written before by text', async () => {
    // record 5 is text the index leaves unread: every lookup reads it too (the filters decide)
    const DOUBLES = ['4.5', '4.50', '45e-1', '-0', '0', '1_000.25', 'nan', '1e400', '9007199254740993'];
    const doubles: SectionInfo = { id: 'block-d', version: '1', kind: 'float64', columns: [['x', 'DOUBLE']] };
    // a section as files written before this change hold it: floats hashed by the text String(Number(text))
    const legacy = { id: 'block-f', version: '1', kind: 'float', columns: [['x', 'DOUBLE']] } as unknown as SectionInfo;
    const file = fresh();
    await writeIndexFile(file, 'x', [
      { ...doubles, entries: entriesOf(DOUBLES, 'float64') },
      { ...legacy, entries: entriesOf(['4.5', '4.50', '2'], 'float64', (v) => hashText(String(Number(v)))) },
    ]);
    const offsets = async (values: unknown[], block = 'block-d') => (await lookupIndexFile(file, values)).get(block)?.ranges.map((r) => r[0] / 100);
    assert.deepEqual(await offsets([4.5]), [0, 1, 2, 5]);
    assert.deepEqual(await offsets(['4.5e0']), [0, 1, 2, 5], 'text is read as DuckDB casts it');
    assert.deepEqual(await offsets([0]), [3, 4, 5], '-0 equals 0');
    assert.deepEqual(await offsets([-0]), [3, 4, 5]);
    assert.deepEqual(await offsets([NaN, Infinity]), [5, 6, 7]);
    assert.deepEqual(await offsets([2n ** 53n]), [5, 8], 'a bigint a double holds exactly');
    // a bigint parameter is bound as a HUGEINT, which DuckDB converts to DOUBLE its own way
    assert.equal(await offsets([9007199254740993n]), undefined, 'past 2^53: read in full');
    assert.deepEqual(await offsets([9007199254740992]), [5, 8], 'the same double');
    assert.deepEqual(await offsets([null]), [], 'no value: nothing, not even the unread records');
    assert.equal(await offsets(['four']), undefined, 'no number: read in full');
    assert.equal(await offsets([true]), undefined);
    // numbers written in the SQL: DuckDB converts a DECIMAL to DOUBLE exactly rounded only when its
    // digits fit 2^53 (DuckDB 1.5 reads 3.6714364922384532 as 3.6714364922384535): else read in full
    assert.deepEqual(await offsets([new NumericLiteral('4.50')]), [0, 1, 2, 5]);
    assert.deepEqual(await offsets([new NumericLiteral('9007199254740993')]), [5, 8], 'a BIGINT literal');
    assert.equal(await offsets([new NumericLiteral('3.6714364922384532')]), undefined);
    assert.equal(await offsets([new NumericLiteral('170141183460469231731687303715884105727')]), undefined, 'a HUGEINT literal');
    assert.deepEqual(await offsets([4.5], 'block-f'), [0, 1]);
    assert.deepEqual(await offsets(['2.0'], 'block-f'), [2]);
    assert.equal(await offsets(['two'], 'block-f'), undefined);
  });

  it('a section written before unread records (no `unread`) reads its no-value records in every lookup', async () => {
    // such files hashed text they could not read (1_000, 0x1F, 2.5 in an integer column) as no value
    const file = fresh();
    await writeIndexFile(file, 'n', [{ ...numbers, entries: entriesOf(['5', '7', '5'], 'integer', (v) => (v === '7' ? 0 : textHash(v, 'integer'))) }]);
    const bytes = await readFile(file);
    const header = bytes.subarray(12, 12 + bytes.readUInt32LE(8)).toString('latin1');
    assert.ok(header.includes('"unread":1,'));
    await writeFile(file, Buffer.from(bytes.toString('latin1').replace('"unread":1,', ' '.repeat('"unread":1,'.length)), 'latin1'));
    assert.equal((await readIndexHeader(file)).blocks[0]!.unread, undefined);
    assert.deepEqual((await lookupIndexFile(file, [5])).get('block-n')!.ranges.map((r) => r[0] / 100), [0, 1, 2]);
  });

  it('ignores null and undefined values and repeated values', async () => {
    const file = await writeBoth();
    assert.deepEqual((await lookupIndexFile(file, [null, 7, undefined, 7, '7'])).get('block-n')!.ranges, [[200, 12], [500, 15]]);
    assert.deepEqual((await lookupIndexFile(file, [null])).get('block-n')!.ranges, []);
  });

  it('an empty block round-trips', async () => {
    const file = fresh();
    assert.equal(await writeIndexFile(file, 'id', [{ ...numbers, entries: entriesOf([], 'integer') }]), 0);
    assert.deepEqual((await readIndexHeader(file)).blocks.map((b) => [b.id, b.count, b.distinct]), [['block-n', 0, 0]]);
    assert.deepEqual((await lookupIndexFile(file, [1])).get('block-n')!.ranges, []);
  });

  it('agrees with a brute-force scan on 50 000 records in random order', async () => {
    let seed = 12345;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const values = Array.from({ length: 50_001 }, () => String(Math.floor(random() * 20_000)));
    const file = fresh();
    await writeIndexFile(file, 'id', [{ ...numbers, entries: entriesOf(values, 'integer') }]);
    const probes = ['0', '19999', values[0]!, values[25_000]!, values[50_000]!, '20000', '-1'];
    for (const probe of probes) {
      const got = (await lookupIndexFile(file, [probe])).get('block-n')!.ranges;
      const want = rangesOf(values, 'integer', [probe]);
      // a superset (FNV-1a collisions) that contains every matching record, in offset order
      const wanted = new Set(want.map((r) => r[0]));
      assert.equal(got.filter((r) => wanted.has(r[0])).length, want.length, `value ${probe}`);
      assert.ok(got.length <= want.length + 2, `value ${probe}: ${got.length} ranges for ${want.length} records`);
      assert.deepEqual(got.map((r) => r[0]), [...got.map((r) => r[0])].sort((a, b) => a - b));
    }
  });

  it('refuses to overwrite an existing index file (files are written once)', async () => {
    const file = await writeBoth();
    const before = await readFile(file);
    await assert.rejects(writeIndexFile(file, 'id', [{ ...texts, entries: entriesOf(['x'], 'string') }]), (e: { code?: string }) => e.code === 'EEXIST');
    assert.deepEqual(await readFile(file), before);
  });
});

describe('damaged index files', () => {
  it('a missing file is an IO_ERROR naming it', async () => {
    const file = path.join(dir, 'idx_missing.idx');
    await expectError(() => readIndexHeader(file), 'IO_ERROR', /Cannot open index file .*idx_missing\.idx/);
    await expectError(() => lookupIndexFile(file, [1]), 'IO_ERROR', /Cannot open index file .*idx_missing\.idx/);
  });

  it('a file that is not an index (wrong magic, empty, a few bytes) is an IO_ERROR naming it', async () => {
    const good = await readFile(await writeBoth());
    const cases: [string, Buffer][] = [
      ['idx_text.idx', Buffer.from('id,name\n1,x\n')],
      ['idx_empty.idx', Buffer.alloc(0)],
      ['idx_short.idx', good.subarray(0, 4)],
      ['idx_version.idx', Buffer.concat([Buffer.from('BBIDX002'), good.subarray(8)])],
    ];
    for (const [name, bytes] of cases) {
      const file = path.join(dir, name);
      await writeFile(file, bytes);
      await expectError(() => readIndexHeader(file), 'IO_ERROR', new RegExp(`${name.replace('.', '\\.')} is not a bundlebase index file`));
      await expectError(() => lookupIndexFile(file, [1]), 'IO_ERROR', new RegExp(`${name.replace('.', '\\.')} is not a bundlebase index file`));
    }
  });

  it('a file cut inside its header is an IO_ERROR naming it', async () => {
    const good = await readFile(await writeBoth());
    const file = path.join(dir, 'idx_cut_header.idx');
    await writeFile(file, good.subarray(0, 20));
    await expectError(() => readIndexHeader(file), 'IO_ERROR', /idx_cut_header\.idx/);
  });

  it('a header that is not JSON is an IO_ERROR naming the file', async () => {
    const good = await readFile(await writeBoth());
    const length = good.readUInt32LE(8);
    const file = path.join(dir, 'idx_garbled.idx');
    await writeFile(file, Buffer.concat([good.subarray(0, 12), Buffer.alloc(length, '{'), good.subarray(12 + length)]));
    await expectError(() => readIndexHeader(file), 'IO_ERROR', /idx_garbled\.idx/);
  });

  it('a file cut inside its arrays is an IO_ERROR, never a lookup that silently finds fewer records', async () => {
    const source = await writeBoth();
    const good = await readFile(source);
    const file = path.join(dir, 'idx_cut_arrays.idx');
    await writeFile(file, good.subarray(0, good.length - 40));
    await expectError(() => lookupIndexFile(file, [5, 7, 'naïve']), 'IO_ERROR', /idx_cut_arrays\.idx/);
  });
});
