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
  /** Function source name → its signature (name, output, version). */
  readonly functions = new Map<string, { name: string; output: Record<string, string>; version?: string }>();
  name: string | undefined;
  description: string | undefined;
  readonly config = new Map<string, { value: string; urlPrefix?: string }>();

  baseBlocks(): SourceBlock[] {
    return this.basePackId === undefined ? [] : (this.packs.get(this.basePackId) ?? []);
  }
}
