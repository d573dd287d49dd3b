import { open, type FileHandle } from 'node:fs/promises';
import { entrySorter } from '../engine/arrow/native.js';
import { ioError } from '../errors.js';
import { NumericLiteral } from '../plan/equalities.js';
import { canonical, floatHash, hashText, parseFloating, UNREAD_HASH, type RecordEntries, type ValueKind } from './scan.js';

/**
 * Index file layout (`idx_<indexId>_<uuid>.idx`): "BBIDX001", a u32 header length, a JSON header
 * naming each block's section, then per block three little-endian arrays of `count` entries:
 * value hashes (u32, sorted), record byte offsets (f64) and record byte lengths (u32).
 */
const MAGIC = 'BBIDX001';

/**
 * A section's kind: what the scanner wrote, or `float`, which files written before DOUBLE columns
 * were hashed by value hold (their values hashed as the text String(Number(text))).
 */
type SectionKind = ValueKind | 'float';

interface BlockSection {
  id: string;
  version: string;
  /** How the block's values were canonicalised before hashing. */
  kind: SectionKind;
  /**
   * The hash of the records whose value the index did not read (UNREAD_HASH), which every lookup
   * reads too; absent in files written before, where such records hashed as no value (0), which
   * lookups then read instead.
   */
  unread?: number;
  /** The block's columns and DuckDB types, so a slice of it reads with the same types. */
  columns: [string, string][];
  /** CSV dialect the records were split with. */
  csv?: { delimiter: string; quote: string; header: boolean };
  /** DuckDB's read_csv options reproducing its sniff of this file version (no re-sniffing needed). */
  readOptions?: string;
  count: number;
  distinct: number;
  hashesAt: number;
  offsetsAt: number;
  lengthsAt: number;
}

export interface IndexHeader {
  column: string;
  blocks: BlockSection[];
}

/**
 * Sorts entries by hash in place (records with equal hashes keep their file order): an LSD radix
 * sort, four passes of 8 bits that move the three arrays together. Reads are sequential and
 * writes go to 256 places, so it stays fast past the CPU caches (a sort of indices reads the
 * hashes in random order, which took most of the time of a 10 M-row build). The addon runs the
 * same sort in C when it is loaded.
 */
function sortByHash(entries: RecordEntries): void {
  const n = entries.count;
  const native = entrySorter();
  if (native) return native(entries.hashes, entries.offsets, entries.lengths, n);
  let hashes = entries.hashes.subarray(0, n);
  let offsets = entries.offsets.subarray(0, n);
  let lengths = entries.lengths.subarray(0, n);
  let toHashes: Uint32Array = new Uint32Array(n);
  let toOffsets: Float64Array = new Float64Array(n);
  let toLengths: Uint32Array = new Uint32Array(n);
  const counts = new Uint32Array(4 * 256);
  for (let i = 0; i < n; i++) {
    const h = hashes[i]!;
    counts[h & 0xff]!++;
    counts[256 + ((h >>> 8) & 0xff)]!++;
    counts[512 + ((h >>> 16) & 0xff)]!++;
    counts[768 + (h >>> 24)]!++;
  }
  for (let pass = 0; pass < 4; pass++) {
    const shift = pass * 8;
    const at = counts.subarray(pass * 256, pass * 256 + 256);
    let sum = 0;
    for (let b = 0; b < 256; b++) {
      const c = at[b]!;
      at[b] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const h = hashes[i]!;
      const to = at[(h >>> shift) & 0xff]!++;
      toHashes[to] = h;
      toOffsets[to] = offsets[i]!;
      toLengths[to] = lengths[i]!;
    }
    [hashes, toHashes] = [toHashes, hashes];
    [offsets, toOffsets] = [toOffsets, offsets];
    [lengths, toLengths] = [toLengths, lengths];
  }
  // four passes: the sorted entries are back in the caller's arrays
}

/** What a section says about its block (the rest is where its arrays are). */
export type SectionInfo = Pick<BlockSection, 'id' | 'version' | 'kind' | 'columns' | 'csv' | 'readOptions'>;

/** Writes one index file covering `blocks`; returns the number of distinct hashes overall. */
export async function writeIndexFile(file: string, column: string, blocks: (SectionInfo & { entries: RecordEntries })[]): Promise<number> {
  const sections: BlockSection[] = [];
  const arrays: Uint8Array[] = [];
  let at = 0;
  let distinctTotal = 0;
  for (const { entries, ...info } of blocks) {
    sortByHash(entries);
    const n = entries.count;
    const hashes = entries.hashes.subarray(0, n);
    let distinct = 0;
    for (let i = 0; i < n; i++) {
      if (i === 0 || hashes[i] !== hashes[i - 1]) distinct++;
    }
    distinctTotal += distinct;
    // offsets need 8-byte alignment relative to the data start
    const pad = (n * 4) % 8 === 0 ? 0 : 4;
    const tail = (8 - ((n * 4) % 8)) % 8;
    sections.push({ ...info, unread: UNREAD_HASH, count: n, distinct, hashesAt: at, offsetsAt: at + n * 4 + pad, lengthsAt: at + n * 4 + pad + n * 8 });
    const bytes = (a: Uint32Array | Float64Array) => new Uint8Array(a.buffer, a.byteOffset, n * a.BYTES_PER_ELEMENT);
    arrays.push(bytes(hashes), new Uint8Array(pad), bytes(entries.offsets), bytes(entries.lengths), new Uint8Array(tail));
    at += n * 4 + pad + n * 8 + n * 4 + tail;
  }
  const header = new TextEncoder().encode(JSON.stringify({ column, blocks: sections } satisfies IndexHeader));
  const headerPad = (8 - ((MAGIC.length + 4 + header.length) % 8)) % 8;
  const prefix = new Uint8Array(MAGIC.length + 4 + header.length + headerPad);
  prefix.set(new TextEncoder().encode(MAGIC));
  new DataView(prefix.buffer).setUint32(MAGIC.length, header.length + headerPad, true);
  prefix.set(header, MAGIC.length + 4);
  prefix.fill(0x20, MAGIC.length + 4 + header.length);
  // written piece by piece from the entry arrays: no second copy of the index in memory
  const handle = await open(file, 'wx');
  try {
    for (const piece of [prefix, ...arrays]) await handle.write(piece);
  } finally {
    await handle.close();
  }
  return distinctTotal;
}

/** Integers a BIGINT holds: DuckDB converts a BIGINT literal to DOUBLE correctly rounded (a HUGEINT, not always). */
const BIGINT_RANGE = [-(2n ** 63n), 2n ** 63n - 1n] as const;
const inBigint = (n: bigint) => n >= BIGINT_RANGE[0] && n <= BIGINT_RANGE[1];

/**
 * The hash a filter value is looked up by, or undefined when the index cannot serve it (the block
 * is then read in full): a number against a text column (DuckDB casts the column, so '05' = 5), a
 * value that is no number of the column's kind, or one whose conversion DuckDB may round another
 * way than here (a double past 2^53 against integers; long decimals and HUGEINTs against DOUBLE).
 */
function lookupHash(value: unknown, kind: SectionKind): number | undefined {
  if (value instanceof NumericLiteral) return literalHash(value.text, kind);
  if (kind === 'string') return typeof value === 'string' ? hashText(value) : undefined;
  if (kind === 'float') return legacyFloatHash(value);
  if (kind === 'float64') {
    if (typeof value === 'number') return floatHash(value);
    // a bigint parameter is bound as a HUGEINT, which DuckDB converts to DOUBLE its own way: only
    // integers a double holds exactly convert the same everywhere
    if (typeof value === 'bigint') return value >= -(2n ** 53n) && value <= 2n ** 53n ? floatHash(Number(value)) : undefined;
    const number = typeof value === 'string' ? parseFloating(value) : undefined;
    return number === undefined ? undefined : floatHash(number);
  }
  if (typeof value === 'number') return Number.isSafeInteger(value) ? hashText(String(value)) : undefined;
  if (typeof value === 'bigint') return hashText(value.toString());
  const text = typeof value === 'string' ? canonical(value, 'integer') : undefined;
  return text === undefined ? undefined : hashText(text);
}

/**
 * The hash of a number written in the filter's SQL: DuckDB reads `42` as an integer type and `4.50`
 * as a DECIMAL, compares an integer column with either exactly and a DOUBLE one by converting the
 * literal, which is correctly rounded when its digits fit 2^53 and its scale an exact power of ten.
 */
function literalHash(text: string, kind: SectionKind): number | undefined {
  const [whole = '', fraction = ''] = text.split('.');
  if (kind === 'string') return undefined;
  if (kind === 'float') return legacyFloatHash(text);
  if (kind === 'integer') return /^0*$/.test(fraction) ? lookupHash(BigInt(whole), kind) : undefined;
  const digits = BigInt(whole + fraction);
  if (fraction === '') return inBigint(digits) ? floatHash(Number(digits)) : undefined;
  const magnitude = digits < 0n ? -digits : digits;
  return magnitude <= 2n ** 53n && fraction.length <= 22 ? floatHash(Number(text)) : undefined;
}

/** Sections written before DOUBLE columns were hashed by value: String(Number(text)). */
function legacyFloatHash(value: unknown): number | undefined {
  if (typeof value !== 'number' && typeof value !== 'bigint' && typeof value !== 'string') return undefined;
  const trimmed = String(value).trim();
  const number = Number(trimmed);
  return Number.isNaN(number) || trimmed === '' ? undefined : hashText(String(number));
}

/** The header of an index file: its column and block sections. */
export async function readIndexHeader(file: string): Promise<IndexHeader> {
  const handle = await open(file, 'r').catch((err) => {
    throw ioError(`Cannot open index file ${file}: ${String(err)}`, err);
  });
  try {
    return (await readHeader(handle, file)).header;
  } finally {
    await handle.close();
  }
}

/** Reads exactly `buffer.length` bytes at `position`; a short read means the file was cut. */
async function readExactly(handle: FileHandle, buffer: Buffer, position: number, file: string): Promise<void> {
  const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
  if (bytesRead < buffer.length) throw ioError(`Index file ${file} is truncated (reindex to rebuild it)`);
}

async function readHeader(handle: FileHandle, file: string): Promise<{ header: IndexHeader; base: number }> {
  const head = Buffer.alloc(MAGIC.length + 4);
  const { bytesRead } = await handle.read(head, 0, head.length, 0);
  if (bytesRead < head.length || head.subarray(0, MAGIC.length).toString() !== MAGIC) throw ioError(`${file} is not a bundlebase index file`);
  const headerLength = head.readUInt32LE(MAGIC.length);
  const size = (await handle.stat()).size;
  if (head.length + headerLength > size) throw ioError(`Index file ${file} is truncated (reindex to rebuild it)`);
  const headerBytes = Buffer.alloc(headerLength);
  await readExactly(handle, headerBytes, head.length, file);
  let header: IndexHeader;
  try {
    header = JSON.parse(headerBytes.toString().trimEnd()) as IndexHeader;
  } catch (err) {
    throw ioError(`Index file ${file} has a damaged header (reindex to rebuild it): ${(err as Error).message}`, err);
  }
  const base = head.length + headerLength;
  // every section's arrays must lie inside the file: a cut file would read as zeros past its end
  const end = Math.max(0, ...(Array.isArray(header.blocks) ? header.blocks : []).map((b) => Math.max(b.hashesAt + b.count * 4, b.offsetsAt + b.count * 8, b.lengthsAt + b.count * 4)));
  if (!Array.isArray(header.blocks) || !Number.isFinite(end) || base + end > size) {
    throw ioError(`Index file ${file} is truncated or damaged (reindex to rebuild it)`);
  }
  return { header, base };
}

/** Byte ranges of the records that may hold one of `values` (a superset: hashes collide), per block id. */
export async function lookupIndexFile(file: string, values: readonly unknown[]): Promise<Map<string, SectionInfo & { ranges: [number, number][] }>> {
  const handle = await open(file, 'r').catch((err) => {
    throw ioError(`Cannot open index file ${file}: ${String(err)}`, err);
  });
  try {
    const { header, base } = await readHeader(handle, file);
    const result = new Map<string, SectionInfo & { ranges: [number, number][] }>();
    for (const section of header.blocks) {
      const hashes = values.filter((v) => v !== null && v !== undefined).map((v) => lookupHash(v, section.kind));
      // a value this block's values cannot be compared with by hash: read the block in full
      if (hashes.some((h) => h === undefined)) continue;
      const wanted = new Set(hashes as number[]);
      // files written before unread records kept text they did not read as no value (0): read those
      if (wanted.size > 0) wanted.add(section.unread ?? 0);
      const ranges: [number, number][] = [];
      for (const hash of wanted) {
        const [lo, hi] = await equalRange(handle, base + section.hashesAt, section.count, hash);
        if (hi <= lo) continue;
        const offsets = Buffer.alloc((hi - lo) * 8);
        const lengths = Buffer.alloc((hi - lo) * 4);
        await readExactly(handle, offsets, base + section.offsetsAt + lo * 8, file);
        await readExactly(handle, lengths, base + section.lengthsAt + lo * 4, file);
        for (let i = 0; i < hi - lo; i++) ranges.push([offsets.readDoubleLE(i * 8), lengths.readUInt32LE(i * 4)]);
      }
      const { id, version, kind, columns, csv, readOptions } = section;
      result.set(id, { id, version, kind, columns, csv, readOptions, ranges: ranges.sort((a, b) => a[0] - b[0]) });
    }
    return result;
  } finally {
    await handle.close();
  }
}

/** Binary search over the sorted u32 hashes of a section, with one 4-byte read per probe. */
async function equalRange(handle: FileHandle, at: number, count: number, hash: number): Promise<[number, number]> {
  const probe = Buffer.alloc(4);
  const valueAt = async (i: number) => {
    await handle.read(probe, 0, 4, at + i * 4);
    return probe.readUInt32LE(0);
  };
  const bound = async (strict: boolean) => {
    let lo = 0;
    let hi = count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const v = await valueAt(mid);
      if (v < hash || (strict && v === hash)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return [await bound(false), await bound(true)];
}
