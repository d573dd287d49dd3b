import { open } from 'node:fs/promises';

/** Where one record sits in a text source, and the hash of its indexed value. */
export interface RecordEntries {
  hashes: Uint32Array;
  offsets: Float64Array;
  lengths: Uint32Array;
  count: number;
}

/** How values of a column are spelled canonically, so a filter value and a file value compare. */
export type ValueKind = 'integer' | 'float' | 'string';

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

/**
 * The canonical text of a value as DuckDB would compare it for this kind of column: integers
 * without sign noise or leading zeros, floats by their parsed value, strings as they are.
 * Returns undefined for text that cannot be such a value (it can never match a filter).
 */
export function canonical(text: string, kind: ValueKind): string | undefined {
  if (kind === 'string') return text;
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  if (kind === 'integer') {
    if (!/^[+-]?\d+$/.test(trimmed)) return undefined;
    return BigInt(trimmed).toString();
  }
  const n = Number(trimmed);
  return Number.isNaN(n) ? undefined : String(n);
}

class Growable {
  hashes = new Uint32Array(1 << 16);
  offsets = new Float64Array(1 << 16);
  lengths = new Uint32Array(1 << 16);
  count = 0;

  push(hash: number, offset: number, length: number): void {
    if (this.count === this.hashes.length) {
      const grow = <T extends Uint32Array | Float64Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.hashes = grow(this.hashes);
      this.offsets = grow(this.offsets);
      this.lengths = grow(this.lengths);
    }
    this.hashes[this.count] = hash;
    this.offsets[this.count] = offset;
    this.lengths[this.count] = length;
    this.count++;
  }
}

/** Called with the bytes scanned so far and the file's size. */
export type ScanProgress = (done: number, total: number) => void;

/** Reads `file` sequentially in large chunks, calling `onRecord` per record (a line, quote-aware for CSV). */
async function scanRecords(
  file: string,
  quote: number | undefined,
  onRecord: (bytes: Uint8Array, start: number, end: number, fileOffset: number) => void,
  onProgress?: ScanProgress,
): Promise<void> {
  const handle = await open(file, 'r');
  const total = onProgress ? (await handle.stat()).size : 0;
  let done = 0;
  try {
    let carry = new Uint8Array(0);
    let carryOffset = 0;
    let inQuotes = false;
    for (;;) {
      const chunk = new Uint8Array(CHUNK);
      const { bytesRead } = await handle.read(chunk, 0, CHUNK, null);
      done += bytesRead;
      onProgress?.(done, total);
      const data = carry.length ? concat(carry, chunk.subarray(0, bytesRead)) : chunk.subarray(0, bytesRead);
      let start = 0;
      // quote state carries across chunks only through `carry`, which restarts at a record start
      inQuotes = false;
      for (let i = 0; i < data.length; i++) {
        const c = data[i]!;
        if (c === quote) inQuotes = !inQuotes;
        else if (c === 10 && !inQuotes) {
          const end = i > start && data[i - 1] === 13 ? i - 1 : i;
          onRecord(data, start, end, carryOffset + start);
          start = i + 1;
        }
      }
      carry = data.slice(start);
      carryOffset += start;
      if (bytesRead === 0) {
        if (carry.length > 0) onRecord(carry, 0, carry[carry.length - 1] === 13 ? carry.length - 1 : carry.length, carryOffset);
        return;
      }
    }
  } finally {
    await handle.close();
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

const decoder = new TextDecoder();

/** Splits one CSV record into raw field texts (quotes removed, doubled quotes unescaped). */
function csvField(bytes: Uint8Array, start: number, end: number, delimiter: number, quote: number, wanted: number): string | undefined {
  let field = 0;
  let i = start;
  while (i <= end) {
    let value: string;
    let next: number;
    if (bytes[i] === quote) {
      let j = i + 1;
      let text = '';
      let from = j;
      for (;;) {
        if (j >= end) {
          text += decoder.decode(bytes.subarray(from, end));
          next = end;
          break;
        }
        if (bytes[j] === quote) {
          if (bytes[j + 1] === quote) {
            text += decoder.decode(bytes.subarray(from, j + 1));
            j += 2;
            from = j;
            continue;
          }
          text += decoder.decode(bytes.subarray(from, j));
          next = j + 1;
          break;
        }
        j++;
      }
      value = text;
      while (next < end && bytes[next] !== delimiter) next++;
    } else {
      next = i;
      while (next < end && bytes[next] !== delimiter) next++;
      value = field === wanted ? decoder.decode(bytes.subarray(i, next)) : '';
    }
    if (field === wanted) return value;
    field++;
    i = next + 1;
  }
  return undefined;
}

export interface CsvLayout {
  delimiter: string;
  quote: string;
  header: boolean;
  /** Position of the indexed column among the file's fields. */
  column: number;
}

/** Scans a CSV file: one entry per data record, its byte range and the hash of its field. */
export async function scanCsv(file: string, layout: CsvLayout, kind: ValueKind, onProgress?: ScanProgress): Promise<RecordEntries> {
  const entries = new Growable();
  const delimiter = layout.delimiter.charCodeAt(0);
  const quote = layout.quote === '' ? undefined : layout.quote.charCodeAt(0);
  let skipHeader = layout.header;
  await scanRecords(file, quote, (bytes, start, end, offset) => {
    if (skipHeader) {
      skipHeader = false;
      return;
    }
    if (end === start) return; // blank lines are not records
    const text = csvField(bytes, start, end, delimiter, quote ?? -1, layout.column);
    const value = text === undefined || text === '' ? undefined : canonical(text, kind);
    entries.push(value === undefined ? 0 : hashText(value), offset, end - start);
  }, onProgress);
  return entries;
}

/** Scans newline-delimited JSON: one entry per line, with the hash of `key`'s value. */
export async function scanNdjson(file: string, key: string, kind: ValueKind, onProgress?: ScanProgress): Promise<RecordEntries> {
  const entries = new Growable();
  const needle = JSON.stringify(key);
  await scanRecords(file, undefined, (bytes, start, end, offset) => {
    if (end === start) return;
    const line = decoder.decode(bytes.subarray(start, end));
    const value = jsonValue(line, needle);
    const text = value === undefined || value === null ? undefined : canonical(String(value), kind);
    entries.push(text === undefined ? 0 : hashText(text), offset, end - start);
  }, onProgress);
  return entries;
}

/**
 * The value of a top-level key in a JSON object line. The token after the key is parsed alone
 * when the key occurs once; otherwise (nested objects with the same key) the whole line is.
 */
function jsonValue(line: string, needle: string): unknown {
  const at = line.indexOf(needle);
  if (at < 0) return undefined;
  try {
    if (line.indexOf(needle, at + needle.length) < 0) {
      const token = /^\s*:\s*("(?:[^"\\]|\\.)*"|[^,}\s]+)/.exec(line.slice(at + needle.length));
      if (token) return JSON.parse(token[1]!);
    }
    return (JSON.parse(line) as Record<string, unknown>)[JSON.parse(needle) as string];
  } catch {
    return undefined;
  }
}
