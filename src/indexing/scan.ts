import { open } from 'node:fs/promises';
import { csvChunkScanner, jsonChunkScanner } from '../engine/arrow/native.js';

/** Where one record sits in a text source, and the hash of its indexed value. */
export interface RecordEntries {
  hashes: Uint32Array;
  offsets: Float64Array;
  lengths: Uint32Array;
  count: number;
}

/**
 * How values of a column are compared, so a filter value and a file value meet: integers and
 * strings by canonical text, DOUBLE (`float64`) by the parsed value.
 */
export type ValueKind = 'integer' | 'float64' | 'string';

/** The kind codes the addon's scanners take (native/index_scan.c). */
const KIND_CODES: Record<ValueKind, number> = { integer: 0, string: 1, float64: 2 };

/**
 * The hash of a record whose value the index does not read (text DuckDB may still read as a value
 * of the column in its own ways: "1_000", "0x1F", "2.5" in an integer column…): every lookup reads
 * these records too, and the filters decide. 0 is a record with no value (NULL).
 */
export const UNREAD_HASH = 1;

const CHUNK = 1 << 22;

const encoder = new TextEncoder();

/** FNV-1a over UTF-8 bytes. */
export function hashText(text: string): number {
  const bytes = encoder.encode(text);
  return hashBytes(bytes, 0, bytes.length);
}

function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const SPECIAL = /^([+-]?)(inf|infinity|nan)$/i;

/**
 * The canonical text of an integer or a string as DuckDB compares it: an integer (optional sign
 * and digits, trimmed) without sign noise or leading zeros, a string as it is. Undefined for text
 * the index does not read as an integer.
 */
export function canonical(text: string, kind: 'integer' | 'string'): string | undefined {
  if (kind === 'string') return text;
  const trimmed = text.trim();
  return INTEGER.test(trimmed) ? BigInt(trimmed).toString() : undefined;
}

/**
 * The number DuckDB reads from text for a DOUBLE column, for plain decimal notation and inf /
 * infinity / nan in any case (trimmed); undefined for other text. Both parses round correctly.
 */
export function parseFloating(text: string): number | undefined {
  const trimmed = text.trim();
  if (DECIMAL.test(trimmed)) return Number(trimmed);
  const special = SPECIAL.exec(trimmed);
  if (!special) return undefined;
  if (special[2]!.toLowerCase() === 'nan') return NaN;
  return special[1] === '-' ? -Infinity : Infinity;
}

const floatBytes = new DataView(new ArrayBuffer(8));
const floatByteView = new Uint8Array(floatBytes.buffer);

/**
 * The hash of a DOUBLE value: FNV-1a over its 8 little-endian IEEE bytes, -0 as 0 and every NaN as
 * one (DuckDB's NaN equals NaN). float_hash in native/index_scan.c computes the same.
 */
export function floatHash(value: number): number {
  if (Number.isNaN(value)) {
    floatBytes.setUint32(0, 0, true);
    floatBytes.setUint32(4, 0x7ff80000, true);
  } else {
    floatBytes.setFloat64(0, value === 0 ? 0 : value, true);
  }
  return hashBytes(floatByteView, 0, 8);
}

/** The hash an index keeps for a value's text: UNREAD_HASH for text it does not read as a value of the kind. */
export function textHash(text: string, kind: ValueKind): number {
  if (kind === 'float64') {
    const value = parseFloating(text);
    return value === undefined ? UNREAD_HASH : floatHash(value);
  }
  const value = canonical(text, kind);
  return value === undefined ? UNREAD_HASH : hashText(value);
}

class Growable {
  hashes = new Uint32Array(1 << 16);
  offsets = new Float64Array(1 << 16);
  lengths = new Uint32Array(1 << 16);
  count = 0;

  /** Makes room for `n` entries in all. */
  reserve(n: number): void {
    if (n <= this.hashes.length) return;
    let size = this.hashes.length;
    while (size < n) size *= 2;
    const grow = <T extends Uint32Array | Float64Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(size);
      b.set(a.subarray(0, this.count));
      return b;
    };
    this.hashes = grow(this.hashes);
    this.offsets = grow(this.offsets);
    this.lengths = grow(this.lengths);
  }

  push(hash: number, offset: number, length: number): void {
    if (this.count === this.hashes.length) this.reserve(this.count + 1);
    this.hashes[this.count] = hash;
    this.offsets[this.count] = offset;
    this.lengths[this.count] = length;
    this.count++;
  }
}

/** Called with the bytes scanned so far and the file's size. */
export type ScanProgress = (done: number, total: number) => void;

/**
 * Reads `file` sequentially in chunks of `chunkSize` bytes. `onChunk` gets bytes starting at a record
 * start, their offset in the file and whether the file ends with them; it returns how many bytes it
 * consumed (whole records), the rest is carried into the next call. The next chunk is read while
 * `onChunk` scans the current one.
 */
async function readChunks(
  file: string,
  chunkSize: number,
  onChunk: (bytes: Uint8Array, fileOffset: number, final: boolean) => number,
  onProgress?: ScanProgress,
): Promise<void> {
  const handle = await open(file, 'r');
  const total = onProgress ? await handle.stat().then((s) => s.size, () => 0) : 0;
  // two buffers, one read into while the other is scanned; each keeps `chunkSize` bytes in front
  // of its chunk for the record begun in the previous one (a longer record is joined in a copy)
  const buffers = [new Uint8Array(2 * chunkSize), new Uint8Array(2 * chunkSize)] as const;
  let position = 0;
  const readInto = async (buffer: Uint8Array) => {
    const { bytesRead } = await handle.read(buffer, chunkSize, chunkSize, position);
    position += bytesRead;
    onProgress?.(position, total);
    return bytesRead;
  };
  let pending = Promise.resolve(0);
  try {
    pending = readInto(buffers[0]);
    let which = 0;
    let carried: Uint8Array = new Uint8Array(0);
    let carryOffset = 0;
    for (;;) {
      const bytesRead = await pending;
      const buffer = buffers[which]!;
      let data: Uint8Array;
      if (carried.length <= chunkSize) {
        buffer.set(carried, chunkSize - carried.length);
        data = buffer.subarray(chunkSize - carried.length, chunkSize + bytesRead);
      } else {
        data = new Uint8Array(carried.length + bytesRead);
        data.set(carried);
        data.set(buffer.subarray(chunkSize, chunkSize + bytesRead), carried.length);
      }
      // the carried bytes are copied out of the other buffer: it takes the next chunk
      which ^= 1;
      if (bytesRead > 0) pending = readInto(buffers[which]!);
      const consumed = onChunk(data, carryOffset, bytesRead === 0);
      if (bytesRead === 0) return;
      carried = data.subarray(consumed);
      carryOffset += consumed;
    }
  } finally {
    // a read still under way when onChunk threw: let it end before the handle closes
    await pending.catch(() => 0);
    await handle.close();
  }
}

/**
 * Splits chunks into records (lines; with a quote, newlines inside quotes do not end one) and calls
 * `onRecord` per record, its trailing '\r' left out. The pure-JS twin of native/index_scan.c.
 */
function recordSplitter(
  quote: number | undefined,
  onRecord: (bytes: Uint8Array, start: number, end: number, fileOffset: number) => void,
): (bytes: Uint8Array, fileOffset: number, final: boolean) => number {
  return (data, fileOffset, final) => {
    let start = 0;
    const record = (newline: number) => {
      const end = newline > start && data[newline - 1] === 13 ? newline - 1 : newline;
      onRecord(data, start, end, fileOffset + start);
      start = newline + 1;
    };
    if (quote === undefined) {
      // no quoting: every newline ends a record (indexOf searches natively, far faster than a loop)
      for (let newline = data.indexOf(10); newline >= 0; newline = data.indexOf(10, start)) record(newline);
    } else {
      // quote state carries across chunks only through the carried bytes, which restart at a record start
      let inQuotes = false;
      for (let i = 0; i < data.length; i++) {
        const c = data[i]!;
        if (c === quote) inQuotes = !inQuotes;
        else if (c === 10 && !inQuotes) record(i);
      }
    }
    if (final && start < data.length) {
      onRecord(data, start, data[data.length - 1] === 13 ? data.length - 1 : data.length, fileOffset + start);
      start = data.length;
    }
    return start;
  };
}

const decoder = new TextDecoder();

/**
 * One CSV field's raw bytes (quotes removed, doubled quotes unescaped); undefined when the record
 * has fewer fields, null for a field the index does not read (a quote after other characters, or
 * characters after the closing quote: DuckDB reads those its own ways, e.g. ` "sp"` as `sp`).
 */
function csvField(bytes: Uint8Array, start: number, end: number, delimiter: number, quote: number, wanted: number): Uint8Array | undefined | null {
  let field = 0;
  let i = start;
  while (i <= end) {
    let next: number;
    if (bytes[i] === quote) {
      const parts: Uint8Array[] = [];
      let j = i + 1;
      let from = j;
      for (;;) {
        if (j >= end) {
          parts.push(bytes.subarray(from, end));
          next = end;
          break;
        }
        if (bytes[j] === quote) {
          if (bytes[j + 1] === quote) {
            parts.push(bytes.subarray(from, j + 1));
            j += 2;
            from = j;
            continue;
          }
          parts.push(bytes.subarray(from, j));
          next = j + 1;
          break;
        }
        j++;
      }
      const closed = next;
      while (next < end && bytes[next] !== delimiter) next++;
      if (field === wanted) return next > closed ? null : parts.length === 1 ? parts[0] : Buffer.concat(parts);
    } else {
      next = i;
      while (next < end && bytes[next] !== delimiter) next++;
      if (field === wanted) return quote >= 0 && bytes.subarray(i, next).includes(quote) ? null : bytes.subarray(i, next);
    }
    field++;
    i = next + 1;
  }
  return undefined;
}

/** The hash an index keeps for a field's bytes: 0 for no value, else as textHash. */
function fieldHash(field: Uint8Array | undefined | null, kind: ValueKind): number {
  if (field === null) return UNREAD_HASH;
  if (field === undefined || field.length === 0) return 0;
  // text is hashed as its bytes: the same as hashText of the decoded string for valid UTF-8
  if (kind === 'string') return hashBytes(field, 0, field.length);
  if (kind === 'integer') {
    const hash = integerHash(field);
    if (hash !== undefined) return hash;
  }
  return textHash(decoder.decode(field), kind);
}

const isAsciiSpace = (c: number) => c === 32 || (c >= 9 && c <= 13);
const isDigit = (c: number | undefined) => c !== undefined && c >= 0x30 && c <= 0x39;
const MINUS = 0x2d;

/**
 * textHash(text, 'integer') read from the bytes, as integer_hash in native/index_scan.c;
 * undefined when the text starts or ends with a non-ASCII character (perhaps a Unicode space that
 * trim() removes): the caller decodes it then.
 */
function integerHash(field: Uint8Array): number | undefined {
  let start = 0;
  let end = field.length;
  while (start < end && isAsciiSpace(field[start]!)) start++;
  while (end > start && isAsciiSpace(field[end - 1]!)) end--;
  if (start < end && (field[start]! >= 0x80 || field[end - 1]! >= 0x80)) return undefined;
  const negative = field[start] === MINUS;
  if (negative || field[start] === 0x2b) start++;
  if (start === end) return UNREAD_HASH;
  for (let i = start; i < end; i++) {
    if (!isDigit(field[i])) return UNREAD_HASH;
  }
  while (start < end - 1 && field[start] === 0x30) start++;
  const zero = end - start === 1 && field[start] === 0x30;
  let h = 0x811c9dc5;
  if (negative && !zero) h = Math.imul(h ^ MINUS, 0x01000193);
  for (let i = start; i < end; i++) h = Math.imul(h ^ field[i]!, 0x01000193);
  return h >>> 0;
}

export interface CsvLayout {
  delimiter: string;
  quote: string;
  header: boolean;
  /** Position of the indexed column among the file's fields. */
  column: number;
}

/** @internal Test hooks: the chunk size, and `js` to keep the addon out. */
interface ScanOptions {
  chunkSize?: number;
  engine?: 'js';
}

/**
 * Scans a CSV file: one entry per data record, its byte range and the hash of its field; by the
 * addon when it is loaded (native/index_scan.c), else in JS.
 */
export async function scanCsv(file: string, layout: CsvLayout, kind: ValueKind, onProgress?: ScanProgress, options: ScanOptions = {}): Promise<RecordEntries> {
  const entries = new Growable();
  const delimiter = layout.delimiter.charCodeAt(0);
  const quote = layout.quote === '' ? undefined : layout.quote.charCodeAt(0);
  const chunkSize = options.chunkSize ?? CHUNK;
  const native = options.engine === 'js' ? undefined : csvChunkScanner();
  let skip = layout.header ? 1 : 0;
  if (native) {
    await readChunks(file, chunkSize, (bytes, fileOffset, final) => {
      // a record takes at least 2 bytes (a character and its newline), bar the last one
      entries.reserve(entries.count + (bytes.length >> 1) + 1);
      const [consumed, count, left] = native(bytes, fileOffset, delimiter, quote ?? -1, layout.column, KIND_CODES[kind], skip, final, entries.hashes, entries.offsets, entries.lengths, entries.count);
      entries.count = count;
      skip = left;
      return consumed;
    }, onProgress);
    return entries;
  }
  await readChunks(file, chunkSize, recordSplitter(quote, (bytes, start, end, offset) => {
    if (skip > 0) {
      skip--;
      return;
    }
    if (end === start) return; // blank lines are not records
    entries.push(fieldHash(csvField(bytes, start, end, delimiter, quote ?? -1, layout.column), kind), offset, end - start);
  }), onProgress);
  return entries;
}

/**
 * Scans newline-delimited JSON: one entry per line, with the hash of `key`'s value; by the addon
 * when it is loaded, lines it cannot read alone parsed here.
 */
export async function scanNdjson(file: string, key: string, kind: ValueKind, onProgress?: ScanProgress, options: ScanOptions = {}): Promise<RecordEntries> {
  const entries = new Growable();
  const needle = JSON.stringify(key);
  const needleBytes = Buffer.from(needle);
  const native = options.engine === 'js' ? undefined : jsonChunkScanner();
  if (native) {
    let deferred = new Uint32Array(0);
    await readChunks(file, options.chunkSize ?? CHUNK, (bytes, fileOffset, final) => {
      const most = (bytes.length >> 1) + 1; // a line takes at least 2 bytes, bar the last one
      entries.reserve(entries.count + most);
      if (deferred.length < most) deferred = new Uint32Array(most);
      const [consumed, count, left] = native(bytes, fileOffset, needleBytes, KIND_CODES[kind], final, entries.hashes, entries.offsets, entries.lengths, entries.count, deferred);
      entries.count = count;
      for (let i = 0; i < left; i++) {
        const entry = deferred[i]!;
        const at = entries.offsets[entry]! - fileOffset;
        entries.hashes[entry] = parsedHash(decoder.decode(bytes.subarray(at, at + entries.lengths[entry]!)), needle, kind);
      }
      return consumed;
    }, onProgress);
    return entries;
  }
  await readChunks(file, options.chunkSize ?? CHUNK, recordSplitter(undefined, (bytes, start, end, offset) => {
    if (end === start) return;
    const line = Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start);
    entries.push(jsonFieldHash(line, needleBytes, kind) ?? parsedHash(decoder.decode(line), needle, kind), offset, end - start);
  }), onProgress);
  return entries;
}

/**
 * The hash of `needle`'s value in a JSON line, parsed: 0 for a missing key or null; a string as
 * textHash; an exact integer for an integer column, any number for a DOUBLE one; UNREAD_HASH for
 * anything else (2.5 in an integer column, which DuckDB rounds half to even; an integer a double
 * rounded; booleans, objects, numbers in a text column).
 */
function parsedHash(line: string, needle: string, kind: ValueKind): number {
  const value = jsonValue(line, needle);
  if (value === UNPARSED) return UNREAD_HASH;
  if (value === undefined || value === null) return 0;
  if (typeof value === 'string') return textHash(value, kind);
  if (kind === 'integer' && (typeof value === 'bigint' || Number.isSafeInteger(value))) return hashText(BigInt(value as number | bigint).toString());
  if (kind === 'float64' && (typeof value === 'number' || typeof value === 'bigint')) return floatHash(Number(value));
  return UNREAD_HASH;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const isJsonSpace = (c: number | undefined) => c === 32 || c === 9 || c === 10 || c === 13;

/**
 * What parsedHash gives for `key`'s value in one line, read from the bytes for the common shapes
 * (the key once; a string without escapes or control characters, a short integer, null), as
 * json_hash in native/index_scan.c; undefined for anything else, which the caller then parses.
 */
function jsonFieldHash(line: Buffer, needle: Buffer, kind: ValueKind): number | undefined {
  const at = line.indexOf(needle);
  // the key may be there written with escapes ("\u0069d"): the line is parsed then
  if (at < 0) return line.includes(BACKSLASH) ? undefined : 0;
  if (kind === 'float64' || line.indexOf(needle, at + needle.length) >= 0) return undefined;
  let p = at + needle.length;
  while (isJsonSpace(line[p])) p++;
  if (line[p] !== 0x3a) return undefined;
  p++;
  while (isJsonSpace(line[p])) p++;
  const c = line[p];
  if (c === QUOTE) {
    const from = p + 1;
    let q = from;
    while (q < line.length && line[q] !== QUOTE) {
      if (line[q] === 0x5c || line[q]! < 0x20) return undefined;
      q++;
    }
    if (q >= line.length) return undefined;
    // an empty string is a value here (hashText('')), unlike an empty CSV field
    return kind === 'string' ? hashBytes(line, from, q) : integerHash(line.subarray(from, q));
  }
  if (line.subarray(p, p + 4).toString('latin1') === 'null' && (p + 4 === line.length || line[p + 4] === 0x2c || line[p + 4] === 0x7d || isJsonSpace(line[p + 4]))) return 0;
  if (kind === 'string') return undefined;
  // a JSON integer exact in a double: its digits are the canonical text ("-0" is "0")
  let q = c === 0x2d ? p + 1 : p;
  const digits = q;
  while (isDigit(line[q])) q++;
  const n = q - digits;
  const ended = q === line.length || line[q] === 0x2c || line[q] === 0x7d || isJsonSpace(line[q]);
  if (n > 0 && n <= 15 && ended && (line[digits] !== 0x30 || n === 1)) return integerHash(line.subarray(p, q));
  return undefined;
}

/** A JSON integer too long to be sure to be exact in a double: read as a bigint, exact as DuckDB reads it. */
const LONG_INTEGER = /^-?[1-9]\d{15,}$/;

/** A value jsonValue could not read (an object, an array, NaN, a line JSON.parse refuses). */
const UNPARSED = Symbol('unparsed');

/**
 * The value of a top-level key in a JSON object line (undefined when the key is missing). The
 * token after the key is parsed alone when the key occurs once as written; otherwise (nested
 * objects with the same key, a key written with escapes) the whole line is.
 */
function jsonValue(line: string, needle: string): unknown {
  const at = line.indexOf(needle);
  if (at < 0 && !line.includes('\\')) return undefined;
  try {
    if (at >= 0 && line.indexOf(needle, at + needle.length) < 0) {
      const token = /^\s*:\s*("(?:[^"\\]|\\.)*"|[^,}\s]+)/.exec(line.slice(at + needle.length));
      if (token && /^[[{]/.test(token[1]!)) return UNPARSED;
      if (token) return LONG_INTEGER.test(token[1]!) ? BigInt(token[1]!) : JSON.parse(token[1]!);
    }
    const value = (JSON.parse(line) as Record<string, unknown>)[JSON.parse(needle) as string];
    return typeof value === 'object' && value !== null ? UNPARSED : value;
  } catch {
    return UNPARSED;
  }
}
