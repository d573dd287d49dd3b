import type { ParamValue } from '../engine/params.js';

export type SourceFormat = 'parquet' | 'csv' | 'json' | 'function';

export interface CsvOptions {
  delimiter?: string;
  header?: boolean;
  quote?: string;
}

/** One attached source as the compiler needs it: where DuckDB reads it and how. */
export interface SourceBlock {
  id: string;
  packId: string;
  /** Absolute path or URL DuckDB reads (relative sources already resolved). */
  location: string;
  format: SourceFormat;
  csv?: CsvOptions;
  numRows?: number;
  /** Explicit column names and DuckDB types (set when an index lookup swaps in a slice of the file). */
  columns?: [name: string, type: string][];
  /** Source version recorded at attach (index files are only used for the version they indexed). */
  version?: string;
  /** read_csv options DuckDB sniffed for this file version (from its index): no sniffing at read time. */
  readOptions?: string;
  /** Set when an index lookup replaced the block by its candidate records. */
  narrowed?: boolean;
}

/**
 * One relational step over the previous relation: either a row predicate (consecutive ones compile
 * into one WHERE, keeping the plan shallow) or SQL reading the relation named `prev`. Its own
 * parameters are numbered from `$1`.
 */
export type Step = (
  | { predicate: string; sql?: undefined }
  | { predicate?: undefined; sql(prev: string): string }
) & {
  params: readonly ParamValue[];
  /** False when the step keeps every row (rename, remove column): row counts can then skip the scan. */
  changesRows: boolean;
};

/** What replaying the operations builds: sources, relational steps and metadata. */
export class PlanState {
  readonly packs = new Map<string, SourceBlock[]>();
  basePackId: string | undefined;
  readonly steps: Step[] = [];
  /** Join name → the pack holding its sources. */
  readonly joins = new Map<string, string>();
  /** View id → name. */
  readonly views = new Map<string, string>();
  /** Index id → indexed column and the files covering blocks (absolute paths). */
  readonly indexes = new Map<string, { column: string; files: { file: string; blocks: { id: string; version: string }[] }[] }>();
  /** Function source name → its signature (name, output, version). */
  readonly functions = new Map<string, { name: string; output: Record<string, string>; version?: string }>();
  name: string | undefined;
  description: string | undefined;
  readonly config = new Map<string, { value: string; urlPrefix?: string }>();

  baseBlocks(): SourceBlock[] {
    return this.basePackId === undefined ? [] : (this.packs.get(this.basePackId) ?? []);
  }
}
