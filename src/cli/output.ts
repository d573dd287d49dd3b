import type { Writable } from 'node:stream';
import * as arrow from 'apache-arrow';
import { isAscii } from 'node:buffer';
import type { TextColumn } from '../plan/textLines.js';

export type OutputFormat = 'table' | 'csv' | 'json';

export const OUTPUT_FORMATS: OutputFormat[] = ['table', 'csv', 'json'];

/** Writes text, waiting when the destination is full so piped output streams in flat memory. */
export async function write(out: Writable, text: string | Uint8Array): Promise<void> {
  if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', resolve));
}

function display(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (value instanceof Date) return value.toISOString().replace('T', ' ').replace(/\.000Z$|Z$/, '');
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString('hex')}`;
  if (typeof value === 'object') return JSON.stringify(value, jsonValue);
  return String(value);
}

function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  return value;
}

export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = value instanceof Date ? value.toISOString() : typeof value === 'object' ? JSON.stringify(value, jsonValue) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function fit(text: string, width: number, right = false): string {
  if (text.length <= width) return right ? text.padStart(width) : text.padEnd(width);
  return `${text.slice(0, Math.max(0, width - 1))}…`;
}

const flat = (text: string) => text.replace(/[\r\n\t]/g, ' ');

/** Numbers are right-aligned, as every table of numbers is. */
function isNumeric(type: arrow.DataType): boolean {
  return arrow.DataType.isInt(type) || arrow.DataType.isFloat(type) || arrow.DataType.isDecimal(type);
}

/** How DuckDB prints a column of this type (src/plan/textLines.ts). */
export function textColumn(type: arrow.DataType): TextColumn {
  if (arrow.DataType.isFloat(type)) return { kind: 'float' };
  if (arrow.DataType.isDecimal(type)) return type.precision > 15 ? { kind: 'wide', scale: type.scale } : { kind: 'number' };
  if (arrow.DataType.isInt(type)) return type.bitWidth === 64 ? { kind: 'wide', scale: 0 } : { kind: 'number' };
  if (arrow.DataType.isBool(type)) return { kind: 'number' };
  if (arrow.DataType.isDate(type) || arrow.DataType.isTimestamp(type) || arrow.DataType.isTime(type)) return { kind: 'temporal' };
  return { kind: 'text' };
}

/** The strings of an Arrow Utf8 column, decoded column-wise: ASCII (the usual case) in one call. */
function stringsOf(vector: arrow.Vector): string[] {
  const strings: string[] = [];
  for (const data of vector.data) {
    const offsets = data.valueOffsets as Int32Array;
    const bytes = Buffer.from(data.values.buffer, data.values.byteOffset, data.values.byteLength);
    const start = offsets[data.offset]!;
    const end = offsets[data.offset + data.length]!;
    if (isAscii(bytes.subarray(start, end))) {
      const text = bytes.toString('latin1', start, end);
      for (let r = data.offset; r < data.offset + data.length; r++) strings.push(text.slice(offsets[r]! - start, offsets[r + 1]! - start));
    } else {
      for (let r = data.offset; r < data.offset + data.length; r++) strings.push(bytes.toString('utf8', offsets[r]!, offsets[r + 1]!));
    }
  }
  return strings;
}

/** Writes the bytes of a batch's single text column as they are: DuckDB made them the output lines. */
export async function writeLines(batches: AsyncIterable<arrow.RecordBatch>, out: Writable): Promise<number> {
  let rows = 0;
  for await (const batch of batches) {
    for (const data of batch.getChildAt(0)!.data) {
      const offsets = data.valueOffsets as Int32Array;
      const start = offsets[data.offset]!;
      const end = offsets[data.offset + data.length]!;
      // a view, no copy: each batch is converted into memory of its own
      await write(out, Buffer.from(data.values.buffer, data.values.byteOffset + start, end - start));
    }
    rows += batch.numRows;
  }
  return rows;
}

export interface TableOptions {
  /** Terminal width (columns share it; long cells are cut with …). */
  width?: number;
  /** One block per row, a line per column (like psql's \\x): nothing is cut. */
  expanded?: boolean;
}

/** Column widths come from this many first rows (DuckDB's chunks are 2,048 rows; a batch may be less). */
const SAMPLE_ROWS = 1000;

/**
 * Prints a table from batches whose columns are already the text to show (tableTextSql), streaming:
 * widths are measured on the first 1,000 rows, then every batch is laid out byte by byte into one
 * buffer (no string per cell: a few million rows print at the speed of the pipe).
 */
export async function printTable(fields: readonly arrow.Field[], batches: AsyncIterable<arrow.RecordBatch>, out: Writable, options: TableOptions): Promise<number> {
  const names = fields.map((f) => f.name);
  if (options.expanded) return printExpanded(names, batches, out);
  const numeric = fields.map((f) => isNumeric(f.type));
  // dates, times and numbers keep their width longest when the terminal is narrow
  const keep = fields.map((f) => textColumn(f.type).kind !== 'text');
  let widths: number[] | undefined;
  const pending: arrow.RecordBatch[] = [];
  let printed = 0;
  const start = async () => {
    const sample = names.map((_, c) => pending.flatMap((batch) => sampleLengths(cellsOf(batch.getChildAt(c)!), batch.numRows)).slice(0, SAMPLE_ROWS));
    widths = columnWidths(names.map((n) => n.length), sample, options.width, keep);
    await write(out, `${names.map((n, i) => fit(flat(n), widths![i]!)).join(' │ ').trimEnd()}\n${widths.map((x) => '─'.repeat(x)).join('─┼─')}\n`);
    for (const batch of pending.splice(0)) await print(batch);
  };
  const print = async (batch: arrow.RecordBatch) => {
    if (batch.numRows === 0) return;
    await write(out, layOut(names.map((_, c) => cellsOf(batch.getChildAt(c)!)), batch.numRows, widths!, numeric));
    printed += batch.numRows;
  };
  for await (const batch of batches) {
    if (widths) {
      await print(batch);
      continue;
    }
    pending.push(batch);
    if (pending.reduce((n, b) => n + b.numRows, 0) >= SAMPLE_ROWS) await start();
  }
  if (!widths) await start();
  return printed;
}

/** A text column of a batch as Arrow holds it: UTF-8 bytes and where each value starts. */
interface TextCells {
  bytes: Uint8Array;
  offsets: Int32Array;
  first: number;
  ascii: boolean;
}

function cellsOf(vector: arrow.Vector): TextCells {
  const data = vector.data[0]!; // a batch's column is one piece
  const offsets = data.valueOffsets as Int32Array;
  const bytes = data.values as Uint8Array;
  return { bytes, offsets, first: data.offset, ascii: isAscii(bytes.subarray(offsets[data.offset]!, offsets[data.offset + data.length]!)) };
}

/** Characters in bytes[start, end) of UTF-8 (continuation bytes are 10xxxxxx). */
function charCount(bytes: Uint8Array, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) if ((bytes[i]! & 0xc0) !== 0x80) n++;
  return n;
}

/** Where the first `chars` characters from `start` end. */
function charEnd(bytes: Uint8Array, start: number, end: number, chars: number): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    if ((bytes[i]! & 0xc0) !== 0x80 && n++ === chars) return i;
  }
  return end;
}

function sampleLengths(cells: TextCells, count: number): number[] {
  const lengths: number[] = [];
  for (let r = cells.first; r < cells.first + Math.min(count, SAMPLE_ROWS); r++) {
    const start = cells.offsets[r]!;
    const end = cells.offsets[r + 1]!;
    lengths.push(cells.ascii ? end - start : charCount(cells.bytes, start, end));
  }
  return lengths;
}

const SEPARATOR = Buffer.from(' │ ');
const ELLIPSIS = Buffer.from('…');
const SPACE = 0x20;

/** The rows of a batch as table lines: cells padded (numbers on the right) or cut with … to `widths`. */
function layOut(columns: readonly TextCells[], count: number, widths: readonly number[], numeric: readonly boolean[]): Buffer {
  // a cut cell holds at most width - 1 characters of 4 bytes and the 3-byte ellipsis
  const perRow = widths.reduce((n, w) => n + 4 * w + ELLIPSIS.length, 0) + SEPARATOR.length * columns.length + 1;
  const buf = Buffer.allocUnsafe(perRow * count);
  const last = columns.length - 1;
  let p = 0;
  for (let r = 0; r < count; r++) {
    const lineStart = p;
    for (let c = 0; c <= last; c++) {
      if (c > 0) for (let i = 0; i < SEPARATOR.length; i++) buf[p++] = SEPARATOR[i]!;
      const { bytes, offsets, first, ascii } = columns[c]!;
      const width = widths[c]!;
      const start = offsets[first + r]!;
      let end = offsets[first + r + 1]!;
      const chars = ascii ? end - start : charCount(bytes, start, end);
      const cut = chars > width;
      if (cut) end = ascii ? start + Math.max(0, width - 1) : charEnd(bytes, start, end, Math.max(0, width - 1));
      const padding = cut ? 0 : width - chars;
      if (numeric[c]) for (let i = 0; i < padding; i++) buf[p++] = SPACE;
      if (end - start > 64) {
        buf.set(bytes.subarray(start, end), p);
        p += end - start;
      } else {
        for (let i = start; i < end; i++) buf[p++] = bytes[i]!;
      }
      if (cut) for (let i = 0; i < ELLIPSIS.length; i++) buf[p++] = ELLIPSIS[i]!;
      if (!numeric[c] && c < last) for (let i = 0; i < padding; i++) buf[p++] = SPACE;
    }
    while (p > lineStart && buf[p - 1] === SPACE) p--; // no trailing blanks
    buf[p++] = 0x0a;
  }
  return buf.subarray(0, p);
}

/** `-[ RECORD n ]` then `column │ value` lines, values whole. */
async function printExpanded(names: readonly string[], batches: AsyncIterable<arrow.RecordBatch>, out: Writable): Promise<number> {
  const labelWidth = Math.max(...names.map((n) => n.length));
  let printed = 0;
  for await (const batch of batches) {
    const columns = names.map((_, i) => stringsOf(batch.getChildAt(i)!));
    const blocks: string[] = [];
    for (let r = 0; r < batch.numRows; r++) {
      printed++;
      blocks.push(`-[ RECORD ${printed} ]${'-'.repeat(Math.max(0, labelWidth - 8))}`, ...names.map((n, c) => `${flat(n).padEnd(labelWidth)} │ ${columns[c]![r]}`.trimEnd()));
    }
    if (blocks.length) await write(out, `${blocks.join('\n')}\n`);
  }
  if (printed === 0) await write(out, '(no rows)\n');
  return printed;
}

/**
 * Column widths from the lengths of the first rows' cells: each column as wide as what it shows;
 * when that does not fit the terminal, the widest columns give way first, down to `min`, the
 * `keep` ones (numbers, dates, ids) last: a cut number misleads.
 */
function columnWidths(nameLengths: readonly number[], lengths: readonly (readonly number[])[], width = 120, keep: readonly boolean[] = [], min = 4): number[] {
  const widths = nameLengths.map((name, i) => (lengths[i] ?? []).reduce((w, n) => Math.max(w, n), Math.max(name, 4)));
  const available = Math.max(20, width - 1) - 3 * Math.max(0, nameLengths.length - 1);
  let excess = widths.reduce((a, b) => a + b, 0) - available;
  for (const yieldKept of [false, true]) {
    while (excess > 0) {
      let widest = -1;
      widths.forEach((w, i) => {
        if (w > min && (yieldKept || !keep[i]) && (widest < 0 || w > widths[widest]!)) widest = i;
      });
      if (widest < 0) break;
      widths[widest]!--;
      excess--;
    }
  }
  return widths;
}

export interface PrintOptions {
  format: OutputFormat;
  /** Terminal width for tables. */
  width?: number;
}

/**
 * A small table of already-known rows (schema, history, profile): cells that do not fit the
 * terminal wrap onto more lines instead of being cut (a commit message is read whole).
 */
export async function printRows(names: string[], rows: unknown[][], out: Writable, options: PrintOptions): Promise<void> {
  if (options.format === 'csv') {
    await write(out, [names, ...rows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n');
  } else if (options.format === 'json') {
    for (const row of rows) await write(out, `${JSON.stringify(Object.fromEntries(names.map((n, i) => [n, row[i]])), jsonValue)}\n`);
  } else {
    const numeric = names.map((_, i) => rows.some((r) => typeof r[i] === 'number' || typeof r[i] === 'bigint'));
    const columns = names.map((_, i) => rows.map((r) => display(r[i])));
    // words wrap; numbers, ids and timestamps (no spaces) keep their width longest
    const keep = columns.map((c, i) => numeric[i]! || c.every((text) => !/\s/.test(text)));
    const widths = columnWidths(names.map((n) => n.length), columns.map((c) => c.flatMap((text) => text.split('\n').map((l) => l.length))), options.width, keep, WRAP_MIN);
    const lines = [
      names.map((n, i) => fit(flat(n), widths[i]!)).join(' │ '),
      widths.map((w) => '─'.repeat(w)).join('─┼─'),
    ];
    rows.forEach((row, r) => {
      const cells = columns.map((c, i) => wrap(c[r]!, widths[i]!));
      const height = Math.max(...cells.map((c) => c.length));
      const right = row.map((v) => typeof v === 'number' || typeof v === 'bigint'); // numbers right-aligned, also in a mixed column
      for (let l = 0; l < height; l++) lines.push(cells.map((c, i) => fit(c[l] ?? '', widths[i]!, right[i])).join(' │ '));
    });
    await write(out, `${lines.map((l) => l.trimEnd()).join('\n')}\n`);
  }
}

/** Wrapped columns stay at least this wide: narrower, a word per line reads worse than a longer line. */
const WRAP_MIN = 10;

/** `text` in lines of at most `width`, broken after a space where there is one. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (let rest of text.replace(/\t/g, ' ').split(/\r?\n/)) {
    while (rest.length > width) {
      const space = rest.lastIndexOf(' ', width);
      const cut = space > 0 ? space + 1 : width;
      lines.push(rest.slice(0, cut).trimEnd());
      rest = rest.slice(cut);
    }
    lines.push(rest);
  }
  return lines;
}
