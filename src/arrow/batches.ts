import * as arrow from 'apache-arrow';
import duckdb from '@duckdb/node-bindings';
import type { DuckDBConnection, DuckDBDataChunk, DuckDBType } from '@duckdb/node-api';
import { convertChunkJs } from './jsConvert.js';
import { nativeConverter } from './native.js';

export type Conversion = 'native' | 'js';

/** Turns the chunks of one query into RecordBatches of a fixed schema. */
export interface BatchConverter {
  readonly conversion: Conversion;
  convert(chunk: DuckDBDataChunk): arrow.RecordBatch;
}

/**
 * Picks the native converter (DuckDB's own chunk→Arrow, see DESIGN §5) when the addon is loaded and
 * handles every column type, else the pure-JS one. `BUNDLEBASE_CONVERSION=js` forces the JS path.
 */
export function batchConverter(
  connection: DuckDBConnection,
  schema: arrow.Schema,
  types: readonly DuckDBType[],
  prefer: Conversion | undefined = process.env.BUNDLEBASE_CONVERSION === 'js' ? 'js' : undefined,
): BatchConverter {
  const structType = new arrow.Struct(schema.fields);
  const toBatch = (length: number, children: arrow.Data[]) =>
    new arrow.RecordBatch(schema, arrow.makeData({ type: structType, length, nullCount: 0, children }));
  const native = prefer === 'js' ? undefined : nativeConverter(connection, schema);
  let conversion: Conversion = native ? 'native' : 'js';
  return {
    get conversion() {
      return conversion;
    },
    convert(chunk) {
      const length = chunk.rowCount;
      const children = native?.(chunk);
      if (children) return toBatch(length, children);
      conversion = 'js';
      const batch = toBatch(length, convertChunkJs(chunk, schema.fields, types));
      // the batch owns copies of everything: drop DuckDB's string heap now rather than at GC
      duckdb.data_chunk_reset(chunk.chunk);
      return batch;
    },
  };
}
