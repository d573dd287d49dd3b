import '../allocator.js'; // first: DuckDB's library loads with its allocator settings (the addon binds to it)
import * as arrow from 'apache-arrow';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type duckdb from '@duckdb/node-bindings';

/** The addon built from native/arrow_chunk.c (see there for the buffer layout). */
interface Addon {
  load(libduckdbPath: string): boolean;
  createConverter(connection: unknown, result: unknown, allowDirect: boolean, streamed: boolean): { converter: unknown; formats: string[]; direct: boolean };
  fetch(result: unknown): Promise<[group: unknown, last: boolean] | null>;
  convert(converter: unknown, chunk: unknown): Promise<ArrayBuffer>;
  resultError(result: unknown): string | null;
  registerFunctionSource(connection: unknown, tableName: string, handler: SourceRequestHandler): void;
  pushPage(id: number, rows: number, values: PageValues[], lengths: (Int32Array | null)[], valid: (Uint8Array | null)[]): void;
  endSource(id: number, error?: string): void;
  scanCsvChunk: CsvChunkScanner;
  sortEntries: EntrySorter;
  scanJsonChunk: JsonChunkScanner;
  allocatorSetting(name: string): number | null;
  hugeBlockCount(): number;
}

/**
 * native/index_scan.c: entries for the lines of one chunk of newline-delimited JSON, hashing the
 * value of the key spelled `needle`; entries it leaves to JS get hash 0 and their index in
 * `deferred`. Returns where the first unread line starts, the new count and how many were deferred.
 */
type JsonChunkScanner = (
  bytes: Uint8Array, fileOffset: number, needle: Uint8Array, kind: number, final: boolean,
  hashes: Uint32Array, offsets: Float64Array, lengths: Uint32Array, count: number, deferred: Uint32Array,
) => [consumed: number, count: number, deferred: number];

/** native/index_scan.c: sorts the first `count` index entries by hash in place, equal hashes kept in order. */
type EntrySorter = (hashes: Uint32Array, offsets: Float64Array, lengths: Uint32Array, count: number) => void;

/**
 * native/index_scan.c: entries (value hash, byte offset, length) for the records of one chunk of
 * a CSV file, written from `count` on; returns where the first unread record starts, the new count
 * and the records still to skip. `kind`: 0 integer, 1 string.
 */
type CsvChunkScanner = (
  bytes: Uint8Array, fileOffset: number, delimiter: number, quote: number, column: number, kind: number, skip: number, final: boolean,
  hashes: Uint32Array, offsets: Float64Array, lengths: Uint32Array, count: number,
) => [consumed: number, count: number, skip: number];

// int32 fields at the start of a converted block, as HEADER_* and META_* in arrow_chunk.c
const HEADER_BATCHES = 0, HEADER_FIELDS = 2;
const NULL_COUNT = 0, ARRAY_OFFSET = 1, VALIDITY = 2, VALIDITY_LEN = 3, OFFSETS = 4, OFFSETS_LEN = 5, DATA = 6, DATA_LEN = 7;
const META_FIELDS = 8;

let addon: Addon | null | undefined;

/** Loads the addon once; null when it was not built or DuckDB's library cannot be shared. */
function loadAddon(): Addon | null {
  if (addon !== undefined) return addon;
  addon = null;
  try {
    const require = createRequire(import.meta.url);
    // this file is src/engine/arrow/native.ts (or dist/engine/arrow/native.js): the package root is three up
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
    const candidate = require(path.join(root, 'build/Release/bundlebase_arrow.node')) as Addon;
    const bindings = createRequire(require.resolve('@duckdb/node-bindings'));
    const lib = bindings.resolve(`@duckdb/node-bindings-${process.platform}-${process.arch}/libduckdb.so`);
    if (candidate.load(lib)) addon = candidate;
  } catch {
    addon = null;
  }
  return addon;
}

export function nativeAvailable(): boolean {
  return loadAddon() !== null;
}

/** The addon's CSV index scanner; undefined without the addon or with `BUNDLEBASE_CONVERSION=js` (every native path off). */
export function csvChunkScanner(): CsvChunkScanner | undefined {
  if (process.env.BUNDLEBASE_CONVERSION === 'js') return undefined;
  return loadAddon()?.scanCsvChunk;
}

/** The addon's NDJSON index scanner; undefined as for {@link csvChunkScanner}. */
export function jsonChunkScanner(): JsonChunkScanner | undefined {
  if (process.env.BUNDLEBASE_CONVERSION === 'js') return undefined;
  return loadAddon()?.scanJsonChunk;
}

/** The addon's index entry sort; undefined as for {@link csvChunkScanner}. */
export function entrySorter(): EntrySorter | undefined {
  if (process.env.BUNDLEBASE_CONVERSION === 'js') return undefined;
  return loadAddon()?.sortEntries;
}

let nativeReads = 0;
let directReads = 0;

/**
 * @internal How many results this process has read through the addon (readers handed out by
 * {@link nativeReader}); tests compare it before and after a read to see the native path was taken.
 */
export function nativeReadCount(): number {
  return nativeReads;
}

/** @internal Of those, how many were written straight from DuckDB's vectors (not through its Arrow appender). */
export function directReadCount(): number {
  return directReads;
}

/**
 * @internal A numeric setting of DuckDB's allocator by its jemalloc name (`opt.narenas`,
 * `opt.dirty_decay_ms`…), or null without the addon: tests check what src/engine/allocator.ts set.
 */
export function allocatorSetting(name: string): number | null {
  return loadAddon()?.allocatorSetting(name) ?? null;
}

/** @internal How many converted blocks were mapped as huge pages (native/arrow_chunk.c, block_alloc); 0 without the addon. */
export function hugeBlockCount(): number {
  return loadAddon()?.hugeBlockCount() ?? 0;
}

/**
 * The error of a streaming result that ended, or null. A failed fetch ends a stream like an
 * exhausted one; without the addon the failure cannot be seen (see README).
 */
export function streamError(result: duckdb.Result): string | null {
  return loadAddon()?.resultError(result) ?? null;
}

/**
 * What native/function_source.c asks of JS: 'bind' returns the columns' names and DuckDB type ids;
 * 'need' asks for one page of source `id` (answered with pushPage or endSource); 'close' says the
 * source is gone.
 */
export type SourceRequestHandler = (kind: 'bind' | 'need' | 'close', id: number) => [string[], number[]] | undefined;

/** A column of a page: numbers as doubles, a column type's exact values, text joined, or blob bytes. */
export type PageValues = Float64Array | BigInt64Array | BigUint64Array | Uint8Array | string;

/** The addon's table function for function sources (see function_source.c), or null without it. */
export function nativeFunctionSources(): Pick<Addon, 'registerFunctionSource' | 'pushPage' | 'endSource'> | null {
  const native = loadAddon();
  return native && typeof native.registerFunctionSource === 'function' ? native : null;
}

/** The Arrow C format string DuckDB must produce for `type` for the buffers to be read as `type`. */
function expectedFormat(type: arrow.DataType): string | undefined {
  if (arrow.DataType.isInt(type)) {
    const codes: Record<number, string> = { 8: 'c', 16: 's', 32: 'i', 64: 'l' };
    const code = codes[type.bitWidth]!;
    return type.isSigned ? code : code.toUpperCase();
  }
  if (arrow.DataType.isFloat(type)) return type.precision === arrow.Precision.SINGLE ? 'f' : 'g';
  if (arrow.DataType.isBool(type)) return 'b';
  if (arrow.DataType.isUtf8(type)) return 'u';
  if (arrow.DataType.isBinary(type)) return 'z';
  if (arrow.DataType.isDate(type)) return type.unit === arrow.DateUnit.DAY ? 'tdD' : 'tdm';
  if (arrow.DataType.isTimestamp(type)) return `ts${'smun'[type.unit]}:`;
  if (arrow.DataType.isTime(type)) return `tt${'smun'[type.unit]}`;
  if (arrow.DataType.isDecimal(type)) return `d:${type.precision},${type.scale}`;
  if (type.typeId === arrow.Type.Null) return 'n';
  return undefined;
}

function formatsMatch(schema: arrow.Schema, formats: string[]): boolean {
  return schema.fields.every((field, i) => {
    const expected = expectedFormat(field.type);
    // DuckDB spells decimal128 with its bit width: d:9,2,128
    const actual = formats[i]?.replace(/^(d:\d+,\d+),128$/, '$1');
    if (expected === undefined || actual === undefined) return false;
    // the time zone after "ts?:" may differ (DuckDB writes the session's); the unit may not
    return expected.endsWith(':') ? actual.startsWith(expected) : actual === expected;
  });
}

/** One converted chunk: its row count and a Data per column. */
interface ConvertedChunk {
  length: number;
  children: arrow.Data[];
}

export interface NativeReader {
  /** The next rows (up to 32 768, several DuckDB chunks merged into one batch) as Arrow Data, or null at the end. One call at a time. */
  next(): Promise<ConvertedChunk[] | null>;
  /** Waits for a fetch still running on a worker, so the connection can be closed safely. */
  close(): Promise<void>;
}

/**
 * Reads a streaming result through the addon: fetching chunk i+1 (DuckDB) runs on one worker thread
 * while chunk i is converted to Arrow on another. `keepsAll`: the caller holds every batch to the
 * end (toArrow). Undefined when the addon is unavailable or some
 * column's Arrow layout is not one it handles; the caller then reads in JS.
 */
export function nativeReader(connection: duckdb.Connection, result: duckdb.Result, schema: arrow.Schema, keepsAll = false): NativeReader | undefined {
  const native = loadAddon();
  if (!native) return undefined;
  // BUNDLEBASE_CONVERSION=appender keeps DuckDB's Arrow appender for every column (tests and benches compare);
  // a caller that keeps every batch gets blocks from the heap, not huge pages, reported to V8 once (see block_alloc)
  const { converter, formats, direct } = native.createConverter(connection, result, process.env.BUNDLEBASE_CONVERSION !== 'appender', !keepsAll);
  if (!formatsMatch(schema, formats)) return undefined;
  nativeReads++;
  if (direct) directReads++;
  const fetchNext = () => {
    const fetched = native.fetch(result);
    fetched.catch(() => undefined); // awaited by next() or close(); never left unhandled
    return fetched;
  };
  let fetching: Promise<[unknown, boolean] | null> | undefined;
  let ended = false;
  return {
    async next() {
      if (ended) return null;
      const fetched = await (fetching ?? fetchNext());
      if (fetched === null) {
        ended = true;
        return null;
      }
      const [group, last] = fetched;
      ended = last;
      fetching = last ? undefined : fetchNext(); // the next fetch runs while this group converts
      return unpack(await native.convert(converter, group), schema);
    },
    async close() {
      await fetching?.catch(() => undefined);
      fetching = undefined;
    },
  };
}

/** Splits a converted block into its chunks' Arrow Data (views over the block, no copies). */
function unpack(buffer: ArrayBuffer, schema: arrow.Schema): ConvertedChunk[] {
  const batches = new Int32Array(buffer, 0, 1)[HEADER_BATCHES]!;
  const perBatch = 1 + schema.fields.length * META_FIELDS;
  const meta = new Int32Array(buffer, 0, HEADER_FIELDS + batches * perBatch);
  const chunks: ConvertedChunk[] = [];
  for (let b = 0; b < batches; b++) {
    const at = HEADER_FIELDS + b * perBatch;
    const length = meta[at]!;
    const children = schema.fields.map((field, i) => dataFromBuffers(field.type, length, buffer, meta.subarray(at + 1 + i * META_FIELDS)));
    chunks.push({ length, children });
  }
  return chunks;
}

function view<T>(Type: new (b: ArrayBuffer, offset: number, length: number) => T, buffer: ArrayBuffer, offset: number, bytes: number, per: number): T | undefined {
  return offset < 0 ? undefined : new Type(buffer, offset, bytes / per);
}

function dataFromBuffers(type: arrow.DataType, length: number, buffer: ArrayBuffer, m: Int32Array): arrow.Data {
  if (type.typeId === arrow.Type.Null) return arrow.makeData({ type: type as arrow.Null, length });
  // apache-arrow declares ArrayType per concrete type only; every fixed-width type has one
  const ArrayType = (type as unknown as { ArrayType: (new (b: ArrayBuffer, o: number, l: number) => ArrayBufferView) & { BYTES_PER_ELEMENT: number } }).ArrayType;
  const nullBitmap = view(Uint8Array, buffer, m[VALIDITY]!, m[VALIDITY_LEN]!, 1);
  const nullCount = m[NULL_COUNT]! >= 0 ? m[NULL_COUNT]! : undefined;
  return arrow.makeData({
    type,
    length,
    offset: m[ARRAY_OFFSET]!,
    nullCount: nullBitmap ? nullCount : 0,
    nullBitmap,
    valueOffsets: view(Int32Array, buffer, m[OFFSETS]!, m[OFFSETS_LEN]!, 4),
    data: view(ArrayType, buffer, m[DATA]!, m[DATA_LEN]!, ArrayType.BYTES_PER_ELEMENT),
  } as never);
}
