import { randomUUID } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { EngineConnection, ProgressListener, SqlType } from '../engine/engine.js';
import { invalidArgument } from '../errors.js';
import type { AttachBlock } from '../operations/attachBlock.js';
import { IndexBlocks } from '../operations/indexBlocks.js';
import type { ReplayContext } from '../operations/operation.js';
import { readSource, sniffCsv } from '../plan/statements.js';
import { schemeOf } from '../storage/location.js';
import { writeIndexFile, type SectionInfo } from './file.js';
import { scanCsv, scanNdjson, type RecordEntries, type ValueKind } from './scan.js';

/** Indexable column types, by DuckDB's name for them. */
const KINDS: Record<string, ValueKind> = {
  TINYINT: 'integer', SMALLINT: 'integer', INTEGER: 'integer', BIGINT: 'integer',
  UTINYINT: 'integer', USMALLINT: 'integer', UINTEGER: 'integer', UBIGINT: 'integer',
  // DECIMAL is left out: DuckDB rounds values to the scale on read, which text cannot follow; FLOAT
  // too: DuckDB rounds its text straight to single precision (the sniffers never choose it)
  HUGEINT: 'integer', DOUBLE: 'float64',
  VARCHAR: 'string',
};

function kindOf(column: string, type: SqlType): ValueKind {
  const kind = Object.hasOwn(KINDS, type.name) ? KINDS[type.name] : undefined;
  if (!kind) throw invalidArgument(`Cannot index column '${column}' of type ${type.name}: indexes hold integer, DOUBLE and text columns`);
  return kind;
}

/** An ASCII character, or '' (no quoting). */
const singleByte = (c: string) => c.length <= 1 && (c === '' || c.charCodeAt(0) < 0x80);

/**
 * Builds one index file for `column` over the CSV / newline-delimited JSON blocks given: each
 * record's byte range and value hash, so a lookup reads only candidate lines. Parquet blocks are
 * left out on purpose: DuckDB's row-group statistics already serve equality filters there.
 * A block whose record boundaries do not match DuckDB's row count is left unindexed (read in full).
 */
export async function buildIndex(
  connection: EngineConnection,
  indexId: string,
  column: string,
  blocks: readonly AttachBlock[],
  dir: string,
  context: ReplayContext,
  onProgress?: ProgressListener,
): Promise<IndexBlocks | undefined> {
  const built: (SectionInfo & { entries: RecordEntries })[] = [];
  const sizes = blocks.map((b) => b.fields.bytes ?? 0);
  const total = sizes.reduce((a, b) => a + b, 0);
  let before = 0;
  const report = (done: number) => onProgress?.({ percentage: total ? (100 * (before + done)) / total : 100, rowsProcessed: 0, totalRows: 0 });
  for (const [i, block] of blocks.entries()) {
    if (i > 0) before += sizes[i - 1]!;
    const format = block.format;
    if ((format !== 'csv' && format !== 'json') || schemeOf(block.location) !== undefined) continue;
    const read = readSource({ id: block.fields.id, packId: block.fields.packId, location: block.location, format, csv: block.fields.csv });
    const { columns } = await connection.describe(read, `Indexing ${block.source}`);
    const position = columns.findIndex((c) => c.name === column);
    if (position < 0) continue;
    const kind = kindOf(column, columns[position]!.type);
    const info: SectionInfo = { id: block.fields.id, version: block.fields.version ?? '', kind, columns: columns.map((c) => [c.name, c.type.name]) };
    let entries: RecordEntries;
    if (format === 'csv') {
      // a file DuckDB's sniffer cannot read as told stays unindexed (read in full), not a failed createIndex
      const sniffed = await csvDialect(connection, block).catch(() => undefined);
      if (!sniffed) continue;
      const { dialect, readOptions, escape } = sniffed;
      // the scanners split on single bytes and undo doubled quotes only: a block in another
      // dialect (a backslash escape, a multi-byte delimiter) stays unindexed, read in full
      if (![dialect.delimiter, dialect.quote].every(singleByte) || (escape !== '' && escape !== dialect.quote)) continue;
      info.csv = dialect;
      info.readOptions = readOptions;
      entries = await scanCsv(block.location, { ...dialect, column: position }, kind, report);
    } else {
      // one JSON array over many lines: its lines are no documents of their own, nothing to slice
      if (await startsWithArray(block.location)) continue;
      entries = await scanNdjson(block.location, column, kind, report);
    }
    if (entries.count !== block.fields.numRows) continue;
    built.push({ ...info, entries });
  }
  onProgress?.({ percentage: 100, rowsProcessed: 0, totalRows: 0 });
  if (built.length === 0) return undefined;
  const name = `idx_${indexId}_${randomUUID()}.idx`;
  const cardinality = await writeIndexFile(path.join(dir, name), column, built);
  return new IndexBlocks(indexId, built.map((b) => ({ id: b.id, version: b.version })), name, cardinality, context);
}

/**
 * The CSV dialect (what attach was told, else what DuckDB's sniffer finds) and, when attach gave no
 * options, DuckDB's own spelling of everything it sniffed (`sniff_csv(...).Prompt`): reads of this
 * file version can then pass those options instead of sniffing a large file again.
 */
async function csvDialect(connection: EngineConnection, block: AttachBlock) {
  const rows = await connection.queryRows(sniffCsv(block.location, block.fields.csv), `Indexing ${block.source}`);
  const sniffed = rows[0] ?? {};
  const given = block.fields.csv ?? {};
  // the sniffer spells "no quoting" as "(empty)"
  const sniffedQuote = sniffed.q === undefined || sniffed.q === '(empty)' ? '' : String(sniffed.q);
  const escape = sniffed.e === undefined || sniffed.e === null || sniffed.e === '(empty)' ? '' : String(sniffed.e);
  const dialect = {
    delimiter: given.delimiter ?? String(sniffed.d ?? ','),
    quote: given.quote ?? sniffedQuote,
    header: given.header ?? Boolean(sniffed.h),
  };
  const options = block.fields.csv ? undefined : /^FROM read_csv\('(?:[^']|'')*',\s*([\s\S]*)\);?\s*$/.exec(String(sniffed.p ?? ''))?.[1];
  return { dialect, readOptions: options, escape };
}

/** Whether a JSON file's first character (past spaces and a byte-order mark) opens an array. */
async function startsWithArray(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return /^(?:\uFEFF)?\s*\[/.test(head.subarray(0, bytesRead).toString('utf8'));
  } finally {
    await handle.close();
  }
}
