import * as arrow from 'apache-arrow';

/**
 * Arrow value → plain JS value (README, "Values"): 8–32-bit ints and floats → number, 64-bit ints →
 * bigint, strings → string, booleans → boolean, timestamps and dates → Date (UTC), times → 'HH:MM:SS',
 * decimals → number when exact else bigint / exact text, nulls → null.
 */
function valueReader(type: arrow.DataType): (value: unknown) => unknown {
  switch (type.typeId) {
    case arrow.Type.Timestamp:
    case arrow.Type.Date:
      // apache-arrow hands dates and every timestamp unit out as epoch milliseconds
      return (v) => new Date(Number(v));
    case arrow.Type.Decimal: {
      const scale = (type as arrow.Decimal).scale;
      return (v) => decimalValue(v as Uint32Array, scale);
    }
    case arrow.Type.Time: {
      // apache-arrow hands times out in their unit (micro- or nanoseconds since midnight)
      const perSecond = [1n, 1000n, 1_000_000n, 1_000_000_000n][(type as arrow.Time).unit]!;
      return (v) => timeOfDay(BigInt(v as number | bigint), perSecond);
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

/**
 * A decimal exactly: a number when a double holds it without loss (up to 15 significant digits),
 * else a bigint (no fraction) or its exact decimal text (README: "Values").
 */
function decimalValue(words: Uint32Array, scale: number): number | bigint | string {
  // 128-bit little-endian two's complement
  let value = 0n;
  for (let i = words.length - 1; i >= 0; i--) value = (value << 32n) | BigInt(words[i]!);
  if (words[words.length - 1]! & 0x80000000) value -= 1n << BigInt(32 * words.length);
  const digits = (value < 0n ? -value : value).toString();
  if (digits.length <= 15) return Number(value) / 10 ** scale;
  if (scale === 0) return value;
  const padded = digits.padStart(scale + 1, '0');
  return `${value < 0n ? '-' : ''}${padded.slice(0, -scale)}.${padded.slice(-scale)}`;
}

/** `HH:MM:SS`, with the fraction when there is one. */
function timeOfDay(ticks: bigint, perSecond: bigint): string {
  const seconds = ticks / perSecond;
  const fraction = ticks % perSecond;
  const two = (n: bigint) => n.toString().padStart(2, '0');
  const hms = `${two(seconds / 3600n)}:${two((seconds / 60n) % 60n)}:${two(seconds % 60n)}`;
  if (fraction === 0n) return hms;
  return `${hms}.${fraction.toString().padStart(perSecond.toString().length - 1, '0').replace(/0+$/, '')}`;
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
