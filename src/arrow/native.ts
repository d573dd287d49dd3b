import * as arrow from 'apache-arrow';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DuckDBConnection, DuckDBDataChunk } from '@duckdb/node-api';

/** The addon built from native/arrow_chunk.c (see there for the buffer layout). */
interface Addon {
  load(libduckdbPath: string): boolean;
  createConverter(connection: unknown, chunk: unknown): { converter: unknown; formats: string[] };
  convert(converter: unknown, chunk: unknown): ArrayBuffer | null;
}

// per-column int32 fields at the start of the converted buffer, as META_* in arrow_chunk.c
const NULL_COUNT = 0, ARRAY_OFFSET = 1, VALIDITY = 2, VALIDITY_LEN = 3, OFFSETS = 4, OFFSETS_LEN = 5, DATA = 6, DATA_LEN = 7;
const META_FIELDS = 8;

let addon: Addon | null | undefined;

/** Loads the addon once; null when it was not built or DuckDB's library cannot be shared. */
function loadAddon(): Addon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (process.env.BUNDLEBASE_CONVERSION === 'js') return addon;
  try {
    const require = createRequire(import.meta.url);
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
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

/**
 * A converter using DuckDB's own chunk→Arrow code, or undefined when the addon is unavailable.
 * It returns undefined for a chunk when some column's Arrow layout is not one it handles; the
 * caller then converts that stream in JS.
 */
export function nativeConverter(
  connection: DuckDBConnection,
  schema: arrow.Schema,
): ((chunk: DuckDBDataChunk) => arrow.Data[] | undefined) | undefined {
  const native = loadAddon();
  if (!native) return undefined;
  const rawConnection = (connection as unknown as { connection: unknown }).connection;
  let converter: unknown;
  let usable: boolean | undefined;
  return (chunk) => {
    const rawChunk = chunk.chunk;
    if (usable === undefined) {
      const created = native.createConverter(rawConnection, rawChunk);
      converter = created.converter;
      usable = formatsMatch(schema, created.formats);
    }
    if (!usable) return undefined;
    const length = chunk.rowCount;
    const buffer = native.convert(converter, rawChunk);
    if (buffer === null) return undefined;
    const meta = new Int32Array(buffer, 0, schema.fields.length * META_FIELDS);
    return schema.fields.map((field, i) => dataFromBuffers(field.type, length, buffer, meta.subarray(i * META_FIELDS)));
  };
}

function view<T>(Type: new (b: ArrayBuffer, offset: number, length: number) => T, buffer: ArrayBuffer, offset: number, bytes: number, per: number): T | undefined {
  return offset < 0 ? undefined : new Type(buffer, offset, bytes / per);
}

function dataFromBuffers(type: arrow.DataType, length: number, buffer: ArrayBuffer, m: Int32Array): arrow.Data {
  if (type.typeId === arrow.Type.Null) return arrow.makeData({ type: type as arrow.Null, length });
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
