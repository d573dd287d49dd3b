import '../allocator.js'; // first: DuckDB's library loads with its allocator settings
import * as arrow from 'apache-arrow';
import duckdb from '@duckdb/node-bindings';
import { DuckDBResult } from '@duckdb/node-api';
import { convertChunkJs } from './jsConvert.js';
import { nativeReader, streamError } from './native.js';
import { arrowSchema } from './types.js';

export type Conversion = 'native' | 'js';

/** Reads the RecordBatches of one streaming result (native: one per group of up to 32 768 rows; JS: one per DuckDB chunk). */
export interface BatchReader {
  readonly conversion: Conversion;
  /** The result's columns as Arrow fields (every batch has this schema). */
  readonly schema: arrow.Schema;
  /** The next batches (one or a few), or null at the end. One call at a time. */
  next(): Promise<arrow.RecordBatch[] | null>;
  /** Settles work still running for this result; call before closing its connection. */
  close(): Promise<void>;
}

/**
 * The engine's one DuckDB → Arrow adapter, over the raw handles of a streaming result and its
 * connection. Picks the native reader (DuckDB's own chunk→Arrow on a worker thread, DESIGN §5)
 * when the addon is loaded and handles every column type, else the pure-JS converter.
 * `BUNDLEBASE_CONVERSION=js` forces the JS path.
 */
export function batchReader(
  connection: duckdb.Connection,
  handle: duckdb.Result,
  prefer: Conversion | undefined = process.env.BUNDLEBASE_CONVERSION === 'js' ? 'js' : undefined,
  keepsAll = false,
): BatchReader {
  const result = new DuckDBResult(handle);
  const columns = Array.from({ length: result.columnCount }, (_, i) => ({ name: result.columnName(i), type: result.columnType(i) }));
  const types = columns.map((c) => c.type);
  const schema = arrowSchema(columns);
  const structType = new arrow.Struct(schema.fields);
  const toBatch = (length: number, children: arrow.Data[]) =>
    new arrow.RecordBatch(schema, arrow.makeData({ type: structType, length, nullCount: 0, children }));
  const native = prefer === 'js' ? undefined : nativeReader(connection, handle, schema, keepsAll);
  if (native) {
    return {
      conversion: 'native',
      schema,
      next: async () => {
        const converted = await native.next();
        return converted && converted.map((c) => toBatch(c.length, c.children));
      },
      close: () => native.close(),
    };
  }
  return {
    conversion: 'js',
    schema,
    async next() {
      const chunk = await result.fetchChunk();
      if (chunk === null || chunk.rowCount === 0) {
        const error = streamError(handle);
        if (error) throw new Error(error);
        return null;
      }
      const batch = toBatch(chunk.rowCount, convertChunkJs(chunk, schema.fields, types));
      // the batch owns copies of everything: drop DuckDB's string heap now rather than at GC
      duckdb.data_chunk_reset(chunk.chunk);
      return [batch];
    },
    close: async () => undefined,
  };
}
