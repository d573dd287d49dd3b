import type { Writable } from 'node:stream';
import * as arrow from 'apache-arrow';
import { valueReader } from '../arrow/values.js';

export type OutputFormat = 'table' | 'csv' | 'json';

export const OUTPUT_FORMATS: OutputFormat[] = ['table', 'csv', 'json'];

/** Writes text, waiting when the destination is full so piped output streams in flat memory. */
export async function write(out: Writable, text: string): Promise<void> {
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

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = value instanceof Date ? value.toISOString() : typeof value === 'object' ? JSON.stringify(value, jsonValue) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function truncate(text: string, width: number, right = false): string {
  const flat = text.replace(/[\r\n\t]/g, ' ');
  if (flat.length <= width) return right ? flat.padStart(width) : flat.padEnd(width);
  return `${flat.slice(0, Math.max(0, width - 1))}…`;
}

/** Numbers are right-aligned, as every table of numbers is. */
function isNumeric(type: arrow.DataType | undefined): boolean {
  return type !== undefined && (arrow.DataType.isInt(type) || arrow.DataType.isFloat(type) || arrow.DataType.isDecimal(type));
}

/** A DATE prints as the date it is, in every format (as `export` writes it); the rest as toObjects(). */
function cellReader(type: arrow.DataType): (value: unknown) => unknown {
  if (arrow.DataType.isDate(type)) return (v) => new Date(Number(v)).toISOString().slice(0, 10);
  return valueReader(type);
}

/** Rows of a batch as arrays of JS values (the value mapping of README "Values in toObjects()"). */
function rowsOf(batch: arrow.RecordBatch): unknown[][] {
  const readers = batch.schema.fields.map((f, i) => ({ read: cellReader(f.type), vector: batch.getChildAt(i)! }));
  const rows: unknown[][] = [];
  for (let r = 0; r < batch.numRows; r++) {
    rows.push(readers.map(({ read, vector }) => {
      const v = vector.get(r);
      return v === null || v === undefined ? null : read(v);
    }));
  }
  return rows;
}

export interface PrintOptions {
  format: OutputFormat;
  /** Terminal width for tables (columns share it; long cells are cut with …). */
  width?: number;
  /** Stop after this many rows. */
  limit?: number;
}

/** Prints a stream of batches batch by batch; returns the number of rows printed. */
export async function printBatches(schema: arrow.Schema, batches: AsyncIterable<arrow.RecordBatch>, out: Writable, options: PrintOptions): Promise<number> {
  const names = schema.fields.map((f) => f.name);
  const limit = options.limit ?? Infinity;
  let printed = 0;
  let widths: number[] | undefined;
  const numeric = schema.fields.map((f) => isNumeric(f.type));
  const tableWidths = (sample: unknown[][]) => columnWidths(names, sample, options.width, numeric);
  const header = async () => {
    if (options.format === 'csv') await write(out, `${names.map(csvCell).join(',')}\n`);
  };
  const tableHeader = async (w: number[]) => {
    await write(out, `${names.map((n, i) => truncate(n, w[i]!)).join(' │ ')}\n${w.map((x) => '─'.repeat(x)).join('─┼─')}\n`);
  };
  await header();
  for await (const batch of batches) {
    let rows = rowsOf(batch);
    if (printed + rows.length > limit) rows = rows.slice(0, limit - printed);
    if (options.format === 'table' && !widths) {
      widths = tableWidths(rows);
      await tableHeader(widths);
    }
    const lines = rows.map((row) => {
      if (options.format === 'csv') return row.map(csvCell).join(',');
      if (options.format === 'json') return JSON.stringify(Object.fromEntries(names.map((n, i) => [n, row[i]])), jsonValue);
      return row.map((v, i) => truncate(display(v), widths![i]!, numeric[i])).join(' │ ').trimEnd();
    });
    if (lines.length) await write(out, `${lines.join('\n')}\n`);
    printed += rows.length;
    if (printed >= limit) break;
  }
  if (options.format === 'table' && !widths) await tableHeader(tableWidths([]));
  return printed;
}

/**
 * Column widths from a sample of rows: each column as wide as what it shows; when that does not fit
 * the terminal, the widest text columns give way first, numbers last (a cut number misleads).
 */
function columnWidths(names: string[], sample: unknown[][], width = 120, numeric: readonly boolean[] = []): number[] {
  const widths = names.map((name, i) => Math.max(name.length, 4, ...sample.slice(0, 200).map((row) => display(row[i]).length)));
  const available = Math.max(20, width - 1) - 3 * Math.max(0, names.length - 1);
  const MIN = 4;
  let excess = widths.reduce((a, b) => a + b, 0) - available;
  for (const yieldNumbers of [false, true]) {
    while (excess > 0) {
      let widest = -1;
      widths.forEach((w, i) => {
        if (w > MIN && (yieldNumbers || !numeric[i]) && (widest < 0 || w > widths[widest]!)) widest = i;
      });
      if (widest < 0) break;
      widths[widest]!--;
      excess--;
    }
  }
  return widths;
}

/** A small table of already-known rows (schema, history, status). */
export async function printRows(names: string[], rows: unknown[][], out: Writable, options: PrintOptions): Promise<void> {
  if (options.format === 'csv') {
    await write(out, [names, ...rows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n');
  } else if (options.format === 'json') {
    for (const row of rows) await write(out, `${JSON.stringify(Object.fromEntries(names.map((n, i) => [n, row[i]])), jsonValue)}\n`);
  } else {
    const widths = columnWidths(names, rows, options.width, rows[0]?.map((v) => typeof v === 'number' || typeof v === 'bigint') ?? []);
    const lines = [
      names.map((n, i) => truncate(n, widths[i]!)).join(' │ '),
      widths.map((w) => '─'.repeat(w)).join('─┼─'),
      ...rows.map((r) => r.map((v, i) => truncate(display(v), widths[i]!)).join(' │ ')),
    ];
    await write(out, `${lines.map((l) => l.trimEnd()).join('\n')}\n`);
  }
}
