import * as arrow from 'apache-arrow';
import { invalidArgument } from '../errors.js';

/** The Arrow type names of `defineFunction({ output })` (and manifests). */
const NAMED_TYPES: Record<string, () => arrow.DataType> = {
  Boolean: () => new arrow.Bool(),
  Int8: () => new arrow.Int8(),
  Int16: () => new arrow.Int16(),
  Int32: () => new arrow.Int32(),
  Int64: () => new arrow.Int64(),
  UInt8: () => new arrow.Uint8(),
  UInt16: () => new arrow.Uint16(),
  UInt32: () => new arrow.Uint32(),
  UInt64: () => new arrow.Uint64(),
  Float32: () => new arrow.Float32(),
  Float64: () => new arrow.Float64(),
  Utf8: () => new arrow.Utf8(),
  Binary: () => new arrow.Binary(),
  Date32: () => new arrow.DateDay(),
  Timestamp: () => new arrow.TimestampMicrosecond(),
};

/** Whether `name` is one of the Arrow type names above (exact case: `Int8` is Arrow's, DuckDB's `INT8` is 64-bit). */
export function isNamedType(name: string): boolean {
  return Object.hasOwn(NAMED_TYPES, name);
}

/** Looks up a type name; an unknown one is INVALID_ARGUMENT naming it (and `what` it was for). */
export function namedType(name: string, what = 'a column'): arrow.DataType {
  const entry = Object.hasOwn(NAMED_TYPES, name) ? NAMED_TYPES[name] : undefined;
  if (!entry) {
    throw invalidArgument(`Unknown type name '${name}' for ${what}; known: ${Object.keys(NAMED_TYPES).join(', ')}`);
  }
  return entry();
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
