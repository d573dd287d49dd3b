import * as arrow from 'apache-arrow';

/** PostgreSQL type OIDs and sizes for the Arrow types bundles produce. */
export function pgType(type: arrow.DataType): { oid: number; size: number } {
  switch (type.typeId) {
    case arrow.Type.Bool: return { oid: 16, size: 1 };
    case arrow.Type.Int: {
      const t = type as arrow.Int;
      if (t.bitWidth <= 16 && (t.isSigned || t.bitWidth === 8)) return { oid: 21, size: 2 };
      if (t.bitWidth <= 32 && (t.isSigned || t.bitWidth <= 16)) return { oid: 23, size: 4 };
      if (t.bitWidth <= 64 && (t.isSigned || t.bitWidth <= 32)) return { oid: 20, size: 8 };
      return { oid: 1700, size: -1 };
    }
    case arrow.Type.Float: return (type as arrow.Float).precision === arrow.Precision.SINGLE ? { oid: 700, size: 4 } : { oid: 701, size: 8 };
    case arrow.Type.Decimal: return { oid: 1700, size: -1 };
    case arrow.Type.Utf8: return { oid: 25, size: -1 };
    case arrow.Type.Binary: return { oid: 17, size: -1 };
    case arrow.Type.Date: return { oid: 1082, size: 4 };
    case arrow.Type.Timestamp: return (type as arrow.Timestamp).timezone ? { oid: 1184, size: 8 } : { oid: 1114, size: 8 };
    case arrow.Type.Time: return { oid: 1083, size: 8 };
    default: return { oid: 25, size: -1 };
  }
}

const pad = (n: number | bigint, width = 2) => String(n).padStart(width, '0');

/** `µs since epoch` → `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC), exact to the microsecond. */
function timestampText(micros: bigint): string {
  const seconds = micros / 1_000_000n - (micros % 1_000_000n < 0n ? 1n : 0n);
  const fraction = micros - seconds * 1_000_000n;
  const date = new Date(Number(seconds) * 1000);
  const base = `${date.toISOString().slice(0, 10)} ${date.toISOString().slice(11, 19)}`;
  return fraction === 0n ? base : `${base}.${pad(fraction, 6).replace(/0+$/, '')}`;
}

function decimalText(words: Uint32Array, scale: number): string {
  let value = 0n;
  for (let i = words.length - 1; i >= 0; i--) value = (value << 32n) | BigInt(words[i]!);
  if (words[words.length - 1]! & 0x80000000) value -= 1n << BigInt(32 * words.length);
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(scale + 1, '0');
  const text = scale > 0 ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return negative ? `-${text}` : text;
}

const TIME_UNIT_TO_MICROS: Record<number, bigint> = { [arrow.TimeUnit.SECOND]: 1_000_000n, [arrow.TimeUnit.MILLISECOND]: 1000n, [arrow.TimeUnit.MICROSECOND]: 1n };

/**
 * PostgreSQL text form of every value of a column (null for NULL), column by column. Timestamps
 * and decimals are read from their raw buffers so no precision is lost on the way.
 */
export function columnTexts(vector: arrow.Vector): (string | null)[] {
  const type = vector.type as arrow.DataType;
  const out = new Array<string | null>(vector.length);
  for (let i = 0; i < vector.length; i++) {
    if (!vector.isValid(i)) {
      out[i] = null;
      continue;
    }
    out[i] = textOf(vector, type, i);
  }
  return out;
}

function rawValue(vector: arrow.Vector, i: number): unknown {
  // locate the chunk holding row i and read its underlying typed array
  let offset = i;
  for (const data of vector.data) {
    if (offset < data.length) return (data.values as ArrayLike<unknown>)[data.offset + offset];
    offset -= data.length;
  }
  return undefined;
}

function textOf(vector: arrow.Vector, type: arrow.DataType, i: number): string {
  switch (type.typeId) {
    case arrow.Type.Bool: return vector.get(i) ? 't' : 'f';
    case arrow.Type.Timestamp: {
      const t = type as arrow.Timestamp;
      const raw = BigInt(rawValue(vector, i) as bigint);
      const micros = t.unit === arrow.TimeUnit.NANOSECOND ? raw / 1000n : raw * TIME_UNIT_TO_MICROS[t.unit]!;
      return t.timezone ? `${timestampText(micros)}+00` : timestampText(micros);
    }
    case arrow.Type.Date: return new Date(Number(vector.get(i))).toISOString().slice(0, 10);
    case arrow.Type.Time: {
      const micros = BigInt(rawValue(vector, i) as bigint);
      return timestampText(micros).slice(11);
    }
    case arrow.Type.Decimal: return decimalText(vector.get(i) as Uint32Array, (type as arrow.Decimal).scale);
    case arrow.Type.Binary: return `\\x${Buffer.from(vector.get(i) as Uint8Array).toString('hex')}`;
    case arrow.Type.Float: {
      const v = vector.get(i) as number;
      return Number.isNaN(v) ? 'NaN' : v === Infinity ? 'Infinity' : v === -Infinity ? '-Infinity' : String(v);
    }
    case arrow.Type.Struct:
    case arrow.Type.List:
      return JSON.stringify((vector.get(i) as { toJSON(): unknown }).toJSON(), (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
    default: return String(vector.get(i));
  }
}
