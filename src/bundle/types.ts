import type { OperationInfo } from '../operations/operation.js';

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
}

export interface StreamOptions {
  /** Stops the query and ends the iteration when aborted. */
  signal?: AbortSignal;
}
