import '../allocator.js'; // first: DuckDB's library loads with its allocator settings
import * as arrow from 'apache-arrow';
import duckdb from '@duckdb/node-bindings';
import {
  DuckDBDataChunk,
  DuckDBType,
  DuckDBTypeId,
  JSDuckDBValueConverter,
} from '@duckdb/node-api';

/**
 * Pure-JS DuckDB chunk → Arrow conversion: column by column, typed-array copies for fixed-width
 * types, Utf8 assembled from DuckDB's 16-byte string_t. Used when the native addon is unavailable
 * and for column types the addon does not handle.
 */
export function convertChunkJs(chunk: DuckDBDataChunk, fields: readonly arrow.Field[], types: readonly DuckDBType[]): arrow.Data[] {
  const rows = chunk.rowCount;
  return fields.map((field, column) => {
    const vector = duckdb.data_chunk_get_vector(chunk.chunk, column);
    // a type shown as text keeps DuckDB's value objects: their toString() is DuckDB's spelling
    const asText = arrow.DataType.isUtf8(field.type) && types[column]!.typeId !== DuckDBTypeId.VARCHAR;
    const values = () => (asText ? chunk.getColumnValues(column) : chunk.convertColumnValues(column, JSDuckDBValueConverter));
    return convertVector(vector, rows, types[column]!, field.type, values);
  });
}

const FIXED_WIDTH: Partial<Record<DuckDBTypeId, number>> = {
  [DuckDBTypeId.TINYINT]: 1, [DuckDBTypeId.UTINYINT]: 1,
  [DuckDBTypeId.SMALLINT]: 2, [DuckDBTypeId.USMALLINT]: 2,
  [DuckDBTypeId.INTEGER]: 4, [DuckDBTypeId.UINTEGER]: 4, [DuckDBTypeId.FLOAT]: 4, [DuckDBTypeId.DATE]: 4,
  [DuckDBTypeId.BIGINT]: 8, [DuckDBTypeId.UBIGINT]: 8, [DuckDBTypeId.DOUBLE]: 8,
  [DuckDBTypeId.TIMESTAMP]: 8, [DuckDBTypeId.TIMESTAMP_TZ]: 8, [DuckDBTypeId.TIMESTAMP_S]: 8,
  [DuckDBTypeId.TIMESTAMP_MS]: 8, [DuckDBTypeId.TIMESTAMP_NS]: 8, [DuckDBTypeId.TIME]: 8,
  [DuckDBTypeId.HUGEINT]: 16, [DuckDBTypeId.UHUGEINT]: 16,
};

function convertVector(
  vector: duckdb.Vector,
  rows: number,
  type: DuckDBType,
  target: arrow.DataType,
  jsValues: () => unknown[],
): arrow.Data {
  const { nullBitmap, nullCount } = readValidity(vector, rows);
  const base = { type: target, length: rows, nullCount, nullBitmap };
  const width = FIXED_WIDTH[type.typeId];
  if (width !== undefined) {
    const bytes = duckdb.vector_get_data(vector, rows * width); // already a copy owned by V8
    return arrow.makeData({ ...base, data: typedView(target, bytes) } as never);
  }
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return arrow.makeData({ ...base, data: packBooleans(duckdb.vector_get_data(vector, rows), rows) } as never);
    case DuckDBTypeId.VARCHAR:
    case DuckDBTypeId.BLOB: {
      const { valueOffsets, data } = readStrings(vector, rows, nullBitmap);
      return arrow.makeData({ ...base, valueOffsets, data } as never);
    }
    case DuckDBTypeId.DECIMAL:
      return arrow.makeData({ ...base, data: decimalTo128(vector, rows, type.width) } as never);
  }
  return genericVector(jsValues(), target);
}

/** Views a fresh byte copy as the typed array Arrow expects for `type`. */
function typedView(type: arrow.DataType, bytes: Uint8Array): ArrayBufferView {
  // apache-arrow declares ArrayType per concrete type only; every fixed-width type has one
  const ArrayType = (type as unknown as { ArrayType: (new (b: ArrayBufferLike, o: number, l: number) => ArrayBufferView) & { BYTES_PER_ELEMENT: number } }).ArrayType;
  const perElement = ArrayType.BYTES_PER_ELEMENT;
  return new ArrayType(bytes.buffer, bytes.byteOffset, bytes.byteLength / perElement);
}

const POPCOUNT = new Uint8Array(256).map((_, i) => {
  let n = 0;
  for (let b = i; b; b >>= 1) n += b & 1;
  return n;
});

function readValidity(vector: duckdb.Vector, rows: number): { nullBitmap?: Uint8Array; nullCount: number } {
  const words = Math.ceil(rows / 64);
  const mask = duckdb.vector_get_validity(vector, words * 8);
  if (!mask) return { nullCount: 0 };
  // DuckDB's validity mask and Arrow's bitmap are both LSB-first bits: the bytes carry over as they are
  const bitmap = mask.subarray(0, Math.ceil(rows / 8));
  let valid = 0;
  const fullBytes = rows >> 3;
  for (let i = 0; i < fullBytes; i++) valid += POPCOUNT[bitmap[i]!]!;
  for (let r = fullBytes * 8; r < rows; r++) valid += (bitmap[r >> 3]! >> (r & 7)) & 1;
  if (valid === rows) return { nullCount: 0 };
  return { nullBitmap: bitmap, nullCount: rows - valid };
}

function packBooleans(bytes: Uint8Array, rows: number): Uint8Array {
  const bits = new Uint8Array(Math.ceil(rows / 8));
  for (let i = 0; i < rows; i++) if (bytes[i]) bits[i >> 3]! |= 1 << (i & 7);
  return bits;
}

function isValid(bitmap: Uint8Array | undefined, i: number): boolean {
  return !bitmap || ((bitmap[i >> 3]! >> (i & 7)) & 1) === 1;
}

/** Builds Utf8/Binary buffers from string_t values: ≤ 12 bytes inline, longer behind a pointer. */
function readStrings(vector: duckdb.Vector, rows: number, nullBitmap: Uint8Array | undefined) {
  const raw = duckdb.vector_get_data(vector, rows * 16);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const valueOffsets = new Int32Array(rows + 1);
  let total = 0;
  for (let i = 0; i < rows; i++) {
    if (isValid(nullBitmap, i)) total += view.getUint32(i * 16, true);
    valueOffsets[i + 1] = total;
  }
  const data = new Uint8Array(total);
  for (let i = 0; i < rows; i++) {
    const length = valueOffsets[i + 1]! - valueOffsets[i]!;
    if (length === 0) continue;
    const at = raw.byteOffset + i * 16;
    const bytes = length <= 12
      ? new Uint8Array(raw.buffer, at + 4, length)
      : duckdb.get_data_from_pointer(raw.buffer as ArrayBuffer, at + 8, length);
    data.set(bytes, valueOffsets[i]!);
  }
  return { valueOffsets, data };
}

/** DuckDB stores DECIMAL in 2, 4, 8 or 16 bytes by width; Arrow's Decimal128 wants 16, sign-extended. */
function decimalTo128(vector: duckdb.Vector, rows: number, width: number): Uint32Array {
  const bytesPer = width <= 4 ? 2 : width <= 9 ? 4 : width <= 18 ? 8 : 16;
  const raw = duckdb.vector_get_data(vector, rows * bytesPer);
  if (bytesPer === 16) return new Uint32Array(raw.buffer, raw.byteOffset, rows * 4);
  const out = new BigInt64Array(rows * 2);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let i = 0; i < rows; i++) {
    const v = bytesPer === 2 ? BigInt(view.getInt16(i * 2, true))
      : bytesPer === 4 ? BigInt(view.getInt32(i * 4, true))
      : view.getBigInt64(i * 8, true);
    out[i * 2] = v;
    out[i * 2 + 1] = v < 0n ? -1n : 0n;
  }
  return new Uint32Array(out.buffer);
}

/** Rare types (lists, structs, intervals, UUIDs, enums…): value by value through Arrow's builders. */
function genericVector(values: unknown[], target: arrow.DataType): arrow.Data {
  const prepared = target.typeId === arrow.Type.Utf8
    ? values.map(textForm)
    : values;
  return arrow.vectorFromArray(prepared, target).data[0]!;
}

/** A value shown as text: DuckDB's own spelling when its value class has one (interval, time with zone, map). */
function textForm(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'object') return String(v);
  if ((v as object).toString !== Object.prototype.toString) return String(v);
  return JSON.stringify(v, jsonSafe);
}

function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
