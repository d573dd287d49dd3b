import { typeName } from '../arrow/types.js';
import type { EngineConnection, EngineDatabase } from '../engine/engine.js';
import { ensureTableFunction, functionTableName } from '../engine/functions.js';
import { functionName } from '../operations/attachBlock.js';
import type { SchemaField } from '../operations/attachBlock.js';
import { readSource, sourceRowCount } from '../plan/statements.js';
import type { CsvOptions, SourceFormat } from '../plan/state.js';
import { resolveSource, schemeOf, stampFile } from '../storage/location.js';

export interface SourceFacts {
  version?: string;
  bytes?: number;
  numRows?: number;
  fields: SchemaField[];
}

/**
 * What attach records about a source (one of the two eager steps, docs/architecture.md): its schema, its
 * size and modification stamp, and its row count (Parquet from metadata, CSV/JSON by one count).
 */
export async function inspectSource(
  database: EngineDatabase,
  source: string,
  format: SourceFormat,
  csv: CsvOptions | undefined,
  baseDir: string | undefined,
): Promise<SourceFacts> {
  const connection = await database.connect();
  try {
    return format === 'function'
      ? await inspectFunction(database, connection, source)
      : await inspectFile(connection, resolveSource(source, baseDir), source, format, csv);
  } finally {
    connection.close();
  }
}

async function inspectFile(connection: EngineConnection, location: string, source: string, format: SourceFormat, csv: CsvOptions | undefined): Promise<SourceFacts> {
  const isLocal = schemeOf(location) === undefined;
  const stamp = isLocal ? await stampFile(location) : undefined;
  const block = { id: '', packId: '', location, format, csv };
  const context = `Attach ${source}`;
  const { columns } = await connection.describe(readSource(block), context);
  const rows = await connection.queryRows(sourceRowCount(block), context);
  const fields = columns.map((c) => ({ name: c.name, data_type: typeName(c.type.arrow), nullable: true }));
  return { version: stamp?.version, bytes: stamp?.bytes, numRows: Number(rows[0]!.n), fields };
}

/** A function source: its declared columns (DuckDB binds the table function; nothing runs). */
async function inspectFunction(database: EngineDatabase, connection: EngineConnection, source: string): Promise<SourceFacts> {
  const name = functionName(source);
  await ensureTableFunction(name, database);
  const { columns } = await connection.describe(readSource({ id: '', packId: '', location: functionTableName(name), format: 'function' }), `Attach ${source}`);
  const fields = columns.map((c) => ({ name: c.name, data_type: typeName(c.type.arrow), nullable: true }));
  return { fields };
}
