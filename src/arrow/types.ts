import * as arrow from 'apache-arrow';
import {
  BIGINT, BLOB, BOOLEAN, DATE, DOUBLE, FLOAT, INTEGER, SMALLINT, TIMESTAMP, TINYINT, UBIGINT, UINTEGER, USMALLINT, UTINYINT, VARCHAR,
  DuckDBType,
  DuckDBTypeId,
} from '@duckdb/node-api';
import type { ColumnInfo } from '../engine/engine.js';
import { invalidArgument } from '../errors.js';

/**
 * DuckDB type → Arrow type, following DuckDB's own Arrow export (DESIGN §3a): INTEGER→Int32,
 * BIGINT→Int64, DOUBLE→Float64, VARCHAR→Utf8, DATE→Date32, TIMESTAMP→Timestamp(µs), BOOLEAN→Bool.
 */
export function arrowType(type: DuckDBType): arrow.DataType {
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN: return new arrow.Bool();
    case DuckDBTypeId.TINYINT: return new arrow.Int8();
    case DuckDBTypeId.SMALLINT: return new arrow.Int16();
    case DuckDBTypeId.INTEGER: return new arrow.Int32();
    case DuckDBTypeId.BIGINT: return new arrow.Int64();
    case DuckDBTypeId.UTINYINT: return new arrow.Uint8();
    case DuckDBTypeId.USMALLINT: return new arrow.Uint16();
    case DuckDBTypeId.UINTEGER: return new arrow.Uint32();
    case DuckDBTypeId.UBIGINT: return new arrow.Uint64();
    case DuckDBTypeId.FLOAT: return new arrow.Float32();
    case DuckDBTypeId.DOUBLE: return new arrow.Float64();
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT: return new arrow.Decimal(0, 38, 128);
    case DuckDBTypeId.DECIMAL: return new arrow.Decimal(type.scale, type.width, 128);
    case DuckDBTypeId.DATE: return new arrow.DateDay();
    case DuckDBTypeId.TIME: return new arrow.TimeMicrosecond();
    case DuckDBTypeId.TIMESTAMP: return new arrow.TimestampMicrosecond();
    case DuckDBTypeId.TIMESTAMP_TZ: return new arrow.TimestampMicrosecond('UTC');
    case DuckDBTypeId.TIMESTAMP_S: return new arrow.TimestampSecond();
    case DuckDBTypeId.TIMESTAMP_MS: return new arrow.TimestampMillisecond();
    case DuckDBTypeId.TIMESTAMP_NS: return new arrow.TimestampNanosecond();
    case DuckDBTypeId.BLOB: return new arrow.Binary();
    case DuckDBTypeId.INTERVAL: return new arrow.Interval(arrow.IntervalUnit.MONTH_DAY_NANO);
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY:
      return new arrow.List(new arrow.Field('l', arrowType(type.valueType), true));
    case DuckDBTypeId.STRUCT:
      return new arrow.Struct(
        type.entryNames.map((name, i) => new arrow.Field(name, arrowType(type.entryTypes[i]!), true)),
      );
    case DuckDBTypeId.SQLNULL: return new arrow.Null();
    default:
      // UUID, ENUM, BIT, MAP, UNION, TIME_TZ, …: exposed as their text form
      return new arrow.Utf8();
  }
}

export function arrowSchema(columns: readonly ColumnInfo[]): arrow.Schema {
  return new arrow.Schema(columns.map((c) => new arrow.Field(c.name, arrowType(c.type), true)));
}

/** The Arrow type names of `defineFunction({ output })` (and manifests), with the DuckDB type a column gets. */
const NAMED_TYPES: Record<string, { arrow: () => arrow.DataType; duckdb: DuckDBType }> = {
  Boolean: { arrow: () => new arrow.Bool(), duckdb: BOOLEAN },
  Int8: { arrow: () => new arrow.Int8(), duckdb: TINYINT },
  Int16: { arrow: () => new arrow.Int16(), duckdb: SMALLINT },
  Int32: { arrow: () => new arrow.Int32(), duckdb: INTEGER },
  Int64: { arrow: () => new arrow.Int64(), duckdb: BIGINT },
  UInt8: { arrow: () => new arrow.Uint8(), duckdb: UTINYINT },
  UInt16: { arrow: () => new arrow.Uint16(), duckdb: USMALLINT },
  UInt32: { arrow: () => new arrow.Uint32(), duckdb: UINTEGER },
  UInt64: { arrow: () => new arrow.Uint64(), duckdb: UBIGINT },
  Float32: { arrow: () => new arrow.Float32(), duckdb: FLOAT },
  Float64: { arrow: () => new arrow.Float64(), duckdb: DOUBLE },
  Utf8: { arrow: () => new arrow.Utf8(), duckdb: VARCHAR },
  Binary: { arrow: () => new arrow.Binary(), duckdb: BLOB },
  Date32: { arrow: () => new arrow.DateDay(), duckdb: DATE },
  Timestamp: { arrow: () => new arrow.TimestampMicrosecond(), duckdb: TIMESTAMP },
};

/** Looks up a type name; an unknown one is INVALID_ARGUMENT naming it (and `what` it was for). */
export function namedType(name: string, what = 'a column'): { arrow: arrow.DataType; duckdb: DuckDBType } {
  const entry = Object.hasOwn(NAMED_TYPES, name) ? NAMED_TYPES[name] : undefined;
  if (!entry) {
    throw invalidArgument(`Unknown type name '${name}' for ${what}; known: ${Object.keys(NAMED_TYPES).join(', ')}`);
  }
  return { arrow: entry.arrow(), duckdb: entry.duckdb };
}

/** The name a manifest records for an Arrow type (DataFusion's spelling for the common ones). */
export function typeName(type: arrow.DataType): string {
  switch (type.typeId) {
    case arrow.Type.Bool: return 'Boolean';
    case arrow.Type.Int: {
      const t = type as arrow.Int;
      return `${t.isSigned ? 'Int' : 'UInt'}${t.bitWidth}`;
    }
    case arrow.Type.Float: return (type as arrow.Float).precision === arrow.Precision.SINGLE ? 'Float32' : 'Float64';
    case arrow.Type.Utf8: return 'Utf8';
    case arrow.Type.Binary: return 'Binary';
    case arrow.Type.Date: return 'Date32';
    case arrow.Type.Timestamp: return 'Timestamp';
    default: return String(type);
  }
}
