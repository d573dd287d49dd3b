import type { OperationInfo } from '../operations/operation.js';
import type { ProgressListener } from '../engine/engine.js';

export type { Progress, ProgressListener } from '../engine/engine.js';

export type { OperationInfo };

/** One user-level call's worth of recorded operations. */
export interface Change {
  id: string;
  description: string;
  operations: OperationInfo[];
}

export interface Commit {
  version: string;
  author: string;
  message: string;
  timestamp: string;
  changes: Change[];
  operations: OperationInfo[];
}

export interface Status {
  changes: Change[];
  totalOperations: number;
  isEmpty(): boolean;
}

export type ExportFormat = 'parquet' | 'csv' | 'json';

export interface ExportOptions {
  format?: ExportFormat;
  /** Called a few times a second while DuckDB writes, and once at the end. */
  onProgress?: ProgressListener;
}

export interface CountOptions {
  /** Called a few times a second while a count has to scan, and once at the end. */
  onProgress?: ProgressListener;
}

export interface StreamOptions {
  /** Stops the query and ends the iteration when aborted. */
  signal?: AbortSignal;
}

export interface SchemaChange {
  name: string;
  from: string;
  to: string;
}

/** What changed between two versions of a bundle. */
export interface Diff {
  from: string;
  to: string;
  /** Commits in `to` that `from` lacks, oldest first, and their operations. */
  commits: Commit[];
  operations: OperationInfo[];
  /** Commits in `from` that `to` lacks (when `to` is older than `from`). */
  removedCommits: Commit[];
  schema: { added: string[]; removed: string[]; changed: SchemaChange[] };
}

/** One column's profile, from `describeData()`: one streaming pass over the bundle's rows. */
export interface ColumnProfile {
  name: string;
  /** DuckDB's type name, e.g. `INTEGER`, `VARCHAR`, `DECIMAL(9,2)`. */
  type: string;
  /** Rows in the bundle. */
  count: number;
  /** Rows where the column is NULL. */
  nulls: number;
  /** Approximate number of distinct non-NULL values (HyperLogLog; exact for small counts). */
  distinct: number;
  /** Smallest and largest value (as `toObjects()` gives values); null when every value is NULL. */
  min: unknown;
  max: unknown;
  /** Mean and sample standard deviation of a numeric column; null otherwise (or without values). */
  mean: number | null;
  stddev: number | null;
}
