import type { Statement } from '../engine/engine.js';
import type { ParamValue } from '../engine/params.js';
import { wrap } from './compile.js';
import { csvOptions, sourceSql } from './sources.js';
import { quoteIdent, quoteLiteral, renumberParams } from './sql.js';
import type { CsvOptions, SourceBlock } from './state.js';

/**
 * Every statement the library and servers send besides the pipeline itself (compile.ts): counts,
 * plans, exports, attach inspection, index scans and the servers' composition of client queries.
 */

/** A relation with no rows and no useful columns (a bundle without sources). */
export const EMPTY_RELATION: Statement = { sql: 'SELECT NULL AS "empty" LIMIT 0', params: [] };

export function countStatement(stmt: Statement): Statement {
  return wrap(stmt, 'SELECT count(*) AS n FROM ');
}

export function explainStatement(stmt: Statement): Statement {
  return { sql: `EXPLAIN ${stmt.sql}`, params: stmt.params };
}

export type CopyFormat = 'parquet' | 'csv' | 'json';

const COPY_OPTIONS: { readonly [F in CopyFormat]: string } = {
  parquet: 'FORMAT parquet',
  csv: 'FORMAT csv, HEADER true',
  json: 'FORMAT json',
};

export function isCopyFormat(format: string): format is CopyFormat {
  return Object.hasOwn(COPY_OPTIONS, format);
}

/** Writes the result of `stmt` to `target`: DuckDB streams it from the readers to the file. */
export function copyStatement(stmt: Statement, target: string, format: CopyFormat): Statement {
  return wrap(stmt, 'COPY ', ` TO ${quoteLiteral(target)} (${COPY_OPTIONS[format]})`);
}

/** Every row of one source, as it is read (describing it gives the source's columns). */
export function readSource(block: SourceBlock): string {
  return `SELECT * FROM ${sourceSql(block)}`;
}

/**
 * Every row of one source written to `target` as Parquet (zstd): how attach stores CSV and JSON
 * in a bundle, and materialises a function source. DuckDB streams it from the reader to the file.
 */
export function convertToParquet(block: SourceBlock, target: string): Statement {
  return { sql: `COPY (${readSource(block)}) TO ${quoteLiteral(target)} (FORMAT parquet, COMPRESSION zstd)`, params: [] };
}

/** The rows of one source: Parquet from its metadata (no scan), others by one counting pass. */
export function sourceRowCount(block: SourceBlock): Statement {
  const sql = block.format === 'parquet'
    ? `SELECT coalesce(sum(num_rows), 0) AS n FROM parquet_file_metadata(${quoteLiteral(block.location)})`
    : `SELECT count(*) AS n FROM ${sourceSql(block)}`;
  return { sql, params: [] };
}

/**
 * DuckDB's CSV sniffer on a file, told what attach was told: delimiter `d`, quote `q`, escape `e`,
 * header `h` and its read_csv prompt `p`.
 */
export function sniffCsv(location: string, csv?: CsvOptions): Statement {
  const args = [quoteLiteral(location), ...csvOptions(csv)].join(', ');
  return { sql: `SELECT Delimiter AS d, Quote AS q, Escape AS e, HasHeader AS h, Prompt AS p FROM sniff_csv(${args})`, params: [] };
}

/** The columns of a relation's statement, for describing it. */
export function selectAll(stmt: Statement): string {
  return `SELECT * FROM (${stmt.sql})`;
}

/**
 * A client's SQL with `bundle` and the views bound as CTEs. The client's text is never rewritten:
 * its `$1…$k` stay the first parameters and the relations' own are numbered after them, so no
 * client text can name them.
 */
export function composeClientQuery(relations: readonly { name: string; statement: Statement }[], text: string, clientParams: number): Statement {
  const params: ParamValue[] = [];
  const ctes = relations.map((r) => {
    const body = renumberParams(r.statement.sql, clientParams + params.length);
    params.push(...r.statement.params);
    return `${quoteIdent(r.name)} AS (${body})`;
  });
  return { sql: `WITH ${ctes.join(',\n')}\nSELECT * FROM (\n${text}\n)`, params };
}

/** `SELECT ` is implied when a select's SQL starts with neither SELECT nor WITH. */
export function normalizeSelect(sql: string): string {
  const trimmed = sql.trim().replace(/;\s*$/, '');
  return /^(select|with)\b/i.test(trimmed) ? trimmed : `SELECT ${trimmed}`;
}

/**
 * One pass of aggregates over a statement's rows, constant memory (approximate distinct counts are
 * HyperLogLog sketches): `n` rows, then per column i `c<i>` values, `d<i>` distinct values,
 * `lo<i>`/`hi<i>` min and max and, for numeric columns, `mean<i>` and `sd<i>` (sample deviation).
 */
export function profileStatement(stmt: Statement, columns: readonly { name: string; numeric: boolean }[]): Statement {
  const items = ['count(*) AS n'];
  columns.forEach((c, i) => {
    const column = quoteIdent(c.name);
    items.push(`count(${column}) AS c${i}`, `approx_count_distinct(${column}) AS d${i}`, `min(${column}) AS lo${i}`, `max(${column}) AS hi${i}`);
    if (c.numeric) items.push(`avg(${column}) AS mean${i}`, `stddev_samp(${column}) AS sd${i}`);
  });
  return wrap(stmt, `SELECT ${items.join(', ')} FROM `);
}
