import { typeName } from '../arrow/types.js';
import type { EngineConnection, EngineDatabase } from '../engine/engine.js';
import { ensureTableFunction, functionTableName } from '../engine/functions.js';
import { AttachBlock, detectFormat, functionName, type AttachBlockFields, type SchemaField } from '../operations/attachBlock.js';
import { readSource, sourceRowCount } from '../plan/statements.js';
import type { CsvOptions, SourceFormat } from '../plan/state.js';
import { requireNonEmpty, resolveSource, schemeOf, stampFile } from '../storage/location.js';
import type { Settings } from '../storage/config.js';
import { isRemoteObject, localCopy, type LocalCopy } from '../storage/remote.js';
import { recordTrustedSource } from '../storage/trust.js';

export interface AttachOptions extends CsvOptions {
  format?: 'parquet' | 'csv' | 'json';
  /** Attach into the named join instead of the base pack. */
  join?: string;
}

/**
 * The attachBlock operation for source `url`: inspected in a database that may also read it
 * (`database(extraFiles)`), and recorded in the user's trust store when it is a local file.
 */
export async function inspectBlock(
  url: string,
  id: string,
  packId: string,
  options: AttachOptions,
  baseDir: string | undefined,
  database: (extraFiles: string[]) => Promise<EngineDatabase>,
  settings: Settings,
): Promise<AttachBlock> {
  requireNonEmpty(url, 'Attach URL');
  const format = detectFormat(url, options.format);
  const csv = pickCsv(options);
  const location = resolveSource(url, baseDir);
  const local = format !== 'function' && schemeOf(location) === undefined;
  // a source in a bucket or on a web server is read from its copy in the content cache
  const remote = format !== 'function' && isRemoteObject(location) ? await localCopy(location, settings) : undefined;
  const readable = remote ? [remote.file] : local ? [location] : [];
  const source = await inspectSource(await database(readable), url, format, csv, baseDir, remote);
  // the user attached it here, so reopening this bundle on this machine may read it (access.ts)
  if (local) await recordTrustedSource(location);
  const fields: AttachBlockFields = {
    source: url,
    version: source.version,
    id,
    packId,
    numRows: source.numRows,
    bytes: source.bytes,
    schema: { fields: source.fields },
    format: options.format,
    csv,
  };
  return new AttachBlock(fields, { baseDir });
}

function pickCsv(options: AttachOptions): CsvOptions | undefined {
  const csv: CsvOptions = {};
  if (options.delimiter !== undefined) csv.delimiter = options.delimiter;
  if (options.header !== undefined) csv.header = options.header;
  if (options.quote !== undefined) csv.quote = options.quote;
  return Object.keys(csv).length > 0 ? csv : undefined;
}

interface SourceFacts {
  version?: string;
  bytes?: number;
  numRows?: number;
  fields: SchemaField[];
}

/**
 * What attach records about a source (one of the two eager steps, docs/architecture.md): its schema, its
 * size and modification stamp, and its row count (Parquet from metadata, CSV/JSON by one count).
 */
async function inspectSource(
  database: EngineDatabase,
  source: string,
  format: SourceFormat,
  csv: CsvOptions | undefined,
  baseDir: string | undefined,
  remote: LocalCopy | undefined,
): Promise<SourceFacts> {
  const connection = await database.connect();
  try {
    return format === 'function'
      ? await inspectFunction(database, connection, source)
      : await inspectFile(connection, resolveSource(source, baseDir), source, format, csv, remote);
  } finally {
    connection.close();
  }
}

async function inspectFile(
  connection: EngineConnection,
  location: string,
  source: string,
  format: SourceFormat,
  csv: CsvOptions | undefined,
  remote: LocalCopy | undefined,
): Promise<SourceFacts> {
  // a remote source's stamp is the version (ETag) its cached copy holds
  const stamp = remote ? { version: remote.version, bytes: remote.bytes } : schemeOf(location) === undefined ? await stampFile(location) : undefined;
  const block = { id: '', packId: '', location: remote?.file ?? location, format, csv };
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
