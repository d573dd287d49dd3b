import '../allocator.js'; // first: DuckDB's library loads with its allocator settings
import * as arrow from 'apache-arrow';
import {
  BIGINT, BLOB, BOOLEAN, DATE, DOUBLE, FLOAT, INTEGER, SMALLINT, TIMESTAMP, TINYINT, UBIGINT, UINTEGER, USMALLINT, UTINYINT, VARCHAR,
  DuckDBType,
  DuckDBTypeId,
} from '@duckdb/node-api';
import { isNamedType, namedType } from '../../arrow/types.js';
import { invalidArgument } from '../../errors.js';

/**
 * DuckDB type → Arrow type, following DuckDB's own Arrow export (DESIGN §3a): INTEGER→Int32,
 * BIGINT→Int64, DOUBLE→Float64, VARCHAR→Utf8, DATE→Date32, TIMESTAMP→Timestamp(µs), BOOLEAN→Bool.
 */
function arrowType(type: DuckDBType): arrow.DataType {
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
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY:
      return new arrow.List(new arrow.Field('l', arrowType(type.valueType), true));
    case DuckDBTypeId.STRUCT:
      return new arrow.Struct(
        type.entryNames.map((name, i) => new arrow.Field(name, arrowType(type.entryTypes[i]!), true)),
      );
    case DuckDBTypeId.SQLNULL: return new arrow.Null();
    default:
      // INTERVAL, UUID, ENUM, BIT, MAP, UNION, TIME_TZ, …: exposed as their text form (DuckDB's
      // spelling: '3 days', '12:00:00+02'); Arrow JS cannot read month-day-nano intervals
      return new arrow.Utf8();
  }
}

/** The Arrow schema of columns with DuckDB types (every field nullable). */
export function arrowSchema(columns: readonly { name: string; type: DuckDBType }[]): arrow.Schema {
  return new arrow.Schema(columns.map((c) => new arrow.Field(c.name, arrowType(c.type), true)));
}

/**
 * The DuckDB type a column of a named Arrow type gets (see `namedType` in src/arrow/types.ts): the
 * inverse of {@link arrowType} for the types a function source may declare.
 */
export function duckdbType(type: arrow.DataType, what = 'a column'): DuckDBType {
  if (arrow.DataType.isInt(type)) {
    const signed: Record<number, DuckDBType> = { 8: TINYINT, 16: SMALLINT, 32: INTEGER, 64: BIGINT };
    const unsigned: Record<number, DuckDBType> = { 8: UTINYINT, 16: USMALLINT, 32: UINTEGER, 64: UBIGINT };
    const found = (type.isSigned ? signed : unsigned)[type.bitWidth];
    if (found) return found;
  }
  if (arrow.DataType.isFloat(type)) {
    if (type.precision === arrow.Precision.SINGLE) return FLOAT;
    if (type.precision === arrow.Precision.DOUBLE) return DOUBLE;
  }
  if (arrow.DataType.isBool(type)) return BOOLEAN;
  if (arrow.DataType.isUtf8(type)) return VARCHAR;
  if (arrow.DataType.isBinary(type)) return BLOB;
  if (arrow.DataType.isDate(type) && type.unit === arrow.DateUnit.DAY) return DATE;
  if (arrow.DataType.isTimestamp(type) && type.unit === arrow.TimeUnit.MICROSECOND && !type.timezone) return TIMESTAMP;
  throw invalidArgument(`Arrow type ${type} has no DuckDB column type for ${what}`);
}

/**
 * The DuckDB spelling of a type name for a CAST: an Arrow name as the original bundlebase writes
 * it (`Utf8`, `Int64`, `Float64`, … — DuckDB knows none of them or, like `Int8`, means another
 * width) becomes DuckDB's (`VARCHAR`, `BIGINT`, `DOUBLE`); any other name is DuckDB's own.
 */
export function castTypeName(name: string): string {
  return isNamedType(name) ? duckdbType(namedType(name)).toString() : name;
}

/** A column's or parameter's type: DuckDB's name for it and the Arrow type its values are read as. */
export interface SqlType {
  /** DuckDB's spelling, e.g. `INTEGER`, `DECIMAL(9,2)`, `VARCHAR[]` (SQL a CAST accepts). */
  name: string;
  arrow: arrow.DataType;
}

export function sqlType(type: DuckDBType): SqlType {
  return { name: type.toString(), arrow: arrowType(type) };
}
