import type { Writable } from 'node:stream';
import type * as arrow from 'apache-arrow';
import type { BundleBase } from '../bundle/base.js';
import type { OperationInfo } from '../bundle/types.js';
import type { BundleBuilder } from '../bundle/builder.js';
import { historyTable, profileTable, schemaTable, type StatementResult } from '../bundle/execute.js';
import { tableTextSql, textLinesSql } from '../plan/textLines.js';
import { csvCell, printRows, printTable, textColumn, write, writeLines, type OutputFormat } from './output.js';
import { spinner, type Spinner } from './progress.js';

const out = process.stdout;
/** The terminal's width: COLUMNS when set (as in shells and scripts), else the TTY's (when it says), else 120. */
const width = (target: Writable) => Number(process.env.COLUMNS) || (target === out && out.isTTY ? out.columns || 120 : 120);

/**
 * Streams a bundle's rows to `target`. DuckDB writes the text (csv and json lines, table cells) in
 * the same read: no per-row objects in JavaScript, values as `export` writes them. A table's
 * row count and timing go to `footer` (stderr by default, so piped rows stay clean); `expanded`:
 * one block per row (`-x`).
 */
export async function showRows(
  b: BundleBase, format: OutputFormat, limit?: number, signal?: AbortSignal, target: Writable = out,
  footer: Writable = process.stderr, expanded = false,
): Promise<void> {
  const started = performance.now();
  const fields = (await b.schema()).fields;
  const columns = fields.map((f) => textColumn(f.type));
  const names = fields.map((f) => f.name);
  if (format === 'csv') await write(target, `${names.map(csvCell).join(',')}\n`);
  let rows = 0;
  if (fields.length > 0) {
    const sql = format === 'table' ? tableTextSql(columns) : textLinesSql(names, columns, format);
    const text = await b.select(limit === undefined ? sql : `${sql} LIMIT ${limit}`);
    const spin = spinner('Running');
    try {
      const batches = watched(text.stream({ signal }), spin, (target as NodeJS.WriteStream).isTTY === true);
      rows = format === 'table' ? await printTable(fields, batches, target, { width: width(target), expanded }) : await writeLines(batches, target);
    } finally {
      spin.stop();
      await text.close();
    }
  }
  if (format === 'table') footer.write(`(${rows} row${rows === 1 ? '' : 's'}, ${((performance.now() - started) / 1000).toFixed(3)} s)\n`);
}

/**
 * Batches passed on while the spinner counts them; when the rows go to the same terminal, the
 * spinner only fills the wait for the first of them.
 */
async function* watched(batches: AsyncIterable<arrow.RecordBatch>, spin: Spinner, onTerminal: boolean): AsyncGenerator<arrow.RecordBatch> {
  let rows = 0;
  for await (const batch of batches) {
    rows += batch.numRows;
    if (onTerminal) spin.stop();
    else spin.rows(rows);
    yield batch;
  }
}

/** A small table (schema, history, profile, SHOW …) in the chosen format. */
async function showTable(table: { columns: string[]; rows: unknown[][] }, format: OutputFormat, target: Writable = out): Promise<void> {
  await printRows(table.columns, table.rows, target, { format, width: width(target) });
}

/** One statement's result: a change's message, a SELECT's rows (streamed, then closed), a table, EXPLAIN's plan. */
export async function printResult(result: StatementResult, format: OutputFormat, signal?: AbortSignal, target: Writable = out, footer: Writable = process.stderr): Promise<void> {
  switch (result.kind) {
    case 'change':
      return write(target, `${result.message}\n`);
    case 'text':
      return write(target, `${result.text}\n`);
    case 'table':
      return showTable(result, format, target);
    case 'rows':
      try {
        return await showRows(result.rows, format, undefined, signal, target, footer);
      } finally {
        await result.rows.close();
      }
  }
}

export async function showSchema(b: BundleBase, format: OutputFormat, target: Writable = out): Promise<void> {
  await showTable(await schemaTable(b), format, target);
}

/** describeData() as a table: one row per column. */
export async function showProfile(b: BundleBase, columns: readonly string[], format: OutputFormat, target: Writable = out): Promise<void> {
  await showTable(await profileTable(b, columns), format, target);
}

export async function showHistory(b: BundleBase, format: OutputFormat, target: Writable = out): Promise<void> {
  await showTable(historyTable(b), format, target);
}

export async function showStatus(b: BundleBuilder, target: Writable = out): Promise<void> {
  const status = b.status();
  if (status.isEmpty()) return write(target, 'No uncommitted changes\n');
  const lines = status.changes.map((c, i) => `${i + 1}. ${c.description}${boundValues(c.operations)}  [${c.operations.map((o) => o.type).join(', ')}]`);
  await write(target, `${status.changes.length} uncommitted change(s), ${status.totalOperations} operation(s):\n${lines.join('\n')}\n`);
}

export async function countRows(b: BundleBase): Promise<number> {
  const spin = spinner('Counting');
  try {
    return await b.numRows({ onProgress: spin.active ? (p) => spin.progress(p) : undefined });
  } finally {
    spin.stop();
  }
}


/** What changed between two versions: commits, then the columns added, removed or retyped. */
export async function showDiff(b: BundleBase, from: string, to: string | undefined, target: Writable = out): Promise<void> {
  const diff = await b.diff(from, to);
  const lines = [`${diff.from} → ${diff.to}`];
  for (const c of diff.commits) lines.push(`  + ${c.version} ${c.message} (${c.changes.map((x) => x.description).join('; ')})`);
  for (const c of diff.removedCommits) lines.push(`  - ${c.version} ${c.message}`);
  for (const name of diff.schema.added) lines.push(`  column added: ${name}`);
  for (const name of diff.schema.removed) lines.push(`  column removed: ${name}`);
  for (const c of diff.schema.changed) lines.push(`  column ${c.name}: ${c.from} → ${c.to}`);
  if (lines.length === 1) lines.push('  no changes');
  await write(target, `${lines.join('\n')}\n`);
}

/** `  ($1 = 18, $2 = 'x')` for operations with parameters: a status must show what `$n` stands for. */
function boundValues(operations: readonly OperationInfo[]): string {
  const show = (v: unknown) => (typeof v === 'string' ? `'${v}'` : v instanceof Date ? v.toISOString() : String(v));
  const lists = operations
    .map((op) => ('parameters' in op && Array.isArray(op.parameters) ? (op.parameters as unknown[]) : []))
    .filter((values) => values.length > 0)
    .map((values) => values.map((v, i) => `$${i + 1} = ${show(v)}`).join(', '));
  return lists.length === 0 ? '' : `  (${lists.join('; ')})`;
}
