import type * as arrow from 'apache-arrow';
import type { DuckDBConnection, DuckDBDataChunk, DuckDBType } from '@duckdb/node-api';

/** Placeholder until the addon lands: no native conversion. */
export function nativeConverter(
  _connection: DuckDBConnection,
  _schema: arrow.Schema,
  _types: readonly DuckDBType[],
): ((chunk: DuckDBDataChunk) => arrow.Data[]) | undefined {
  return undefined;
}

export function nativeAvailable(): boolean {
  return false;
}
