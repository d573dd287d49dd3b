import { quoteLiteral } from './sql.js';
import type { CsvOptions, SourceBlock } from './state.js';

/**
 * DuckDB's CSV reader keeps a buffer per thread of 16 × max_line_size (32 MB) by default; 4 MB
 * reads as fast here (slightly faster) and cuts a stream's memory growth from ~235 MB to ~100 MB
 * (docs/performance.md). Lines stay limited by max_line_size (2 MB), which must fit in the buffer.
 */
const CSV_BUFFER = 'buffer_size = 4194304';

/** The table-function call that reads one source, so DuckDB can push filters and columns into it. */
export function sourceSql(block: SourceBlock): string {
  const path = quoteLiteral(block.location);
  switch (block.format) {
    case 'parquet':
      return `read_parquet(${path})`;
    case 'json':
      return `read_json(${[path, ...columnsOption(block)].join(', ')})`;
    case 'function':
      return `${block.location}()`;
    case 'csv': {
      if (block.readOptions !== undefined) return `read_csv(${path}, ${block.readOptions}, ${CSV_BUFFER})`;
      return `read_csv(${[path, ...csvOptions(block.csv), ...columnsOption(block), CSV_BUFFER].join(', ')})`;
    }
  }
}

/** The read_csv / sniff_csv options for what attach was told of a CSV's dialect. */
export function csvOptions(csv: CsvOptions = {}): string[] {
  const opts: string[] = [];
  if (csv.delimiter !== undefined) opts.push(`delim = ${quoteLiteral(csv.delimiter)}`);
  if (csv.header !== undefined) opts.push(`header = ${csv.header}`);
  if (csv.quote !== undefined) opts.push(`quote = ${quoteLiteral(csv.quote)}`);
  return opts;
}

function columnsOption(block: SourceBlock): string[] {
  if (!block.columns) return [];
  return [`columns = {${block.columns.map(([name, type]) => `${quoteLiteral(name)}: ${quoteLiteral(type)}`).join(', ')}}`];
}

/**
 * Sources unioned by column name: a column missing from one source is NULL in its rows. With
 * `blockColumn`, each row also carries its block's id in that column.
 */
export function unionSql(blocks: readonly SourceBlock[], blockColumn?: string): string {
  const tag = (b: SourceBlock) => (blockColumn === undefined ? '' : `, ${quoteLiteral(b.id)} AS ${blockColumn}`);
  return blocks.map((b) => `SELECT *${tag(b)} FROM ${sourceSql(b)}`).join(' UNION ALL BY NAME ');
}
