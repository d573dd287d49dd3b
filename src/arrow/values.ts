import * as arrow from 'apache-arrow';

/**
 * Arrow value → plain JS value, per DESIGN §3: 8–32-bit ints and floats → number, 64-bit ints →
 * bigint, strings → string, booleans → boolean, timestamps and dates → Date (UTC), decimals →
 * number, nulls → null.
 */
export function valueReader(type: arrow.DataType): (value: unknown) => unknown {
  switch (type.typeId) {
    case arrow.Type.Timestamp:
    case arrow.Type.Date:
      // apache-arrow hands dates and every timestamp unit out as epoch milliseconds
      return (v) => new Date(Number(v));
    case arrow.Type.Decimal: {
      const scale = (type as arrow.Decimal).scale;
      return (v) => decimalToNumber(v as Uint32Array, scale);
    }
    case arrow.Type.Int: {
      const t = type as arrow.Int;
      return t.bitWidth === 64 ? (v) => (typeof v === 'bigint' ? v : BigInt(v as number)) : (v) => v;
    }
    case arrow.Type.Struct:
    case arrow.Type.List:
      return (v) => (v && typeof (v as { toJSON?: () => unknown }).toJSON === 'function' ? (v as { toJSON: () => unknown }).toJSON() : v);
    default:
      return (v) => v;
  }
}

function decimalToNumber(words: Uint32Array, scale: number): number {
  // 128-bit little-endian two's complement → BigInt → number
  let value = 0n;
  for (let i = words.length - 1; i >= 0; i--) value = (value << 32n) | BigInt(words[i]!);
  if (words[words.length - 1]! & 0x80000000) value -= 1n << BigInt(32 * words.length);
  return Number(value) / 10 ** scale;
}

/** Column name → JS values for a table or batch. */
export function columnsOf(source: arrow.Table | arrow.RecordBatch): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  source.schema.fields.forEach((field, i) => {
    const read = valueReader(field.type);
    const vector = source.getChildAt(i)!;
    const values = new Array<unknown>(vector.length);
    for (let r = 0; r < vector.length; r++) {
      const v = vector.get(r);
      values[r] = v === null || v === undefined ? null : read(v);
    }
    out[field.name] = values;
  });
  return out;
}

export function objectsOf(source: arrow.Table | arrow.RecordBatch): Record<string, unknown>[] {
  const columns = columnsOf(source);
  const names = Object.keys(columns);
  const rows = new Array<Record<string, unknown>>(source.numRows);
  for (let r = 0; r < source.numRows; r++) {
    const row: Record<string, unknown> = {};
    for (const name of names) row[name] = columns[name]![r];
    rows[r] = row;
  }
  return rows;
}
