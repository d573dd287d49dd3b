import { rm } from 'node:fs/promises';
import path from 'node:path';
import { typeName } from '../arrow/types.js';
import { BundlebaseError } from '../errors.js';
import type { EngineConnection, EngineDatabase, ProgressListener } from '../engine/engine.js';
import { ensureTableFunction, functionTableName } from '../engine/functions.js';
import { AttachBlock, detectFormat, functionName, type AttachBlockFields, type SchemaField } from '../operations/attachBlock.js';
import { readSource, sourceRowCount } from '../plan/statements.js';
import type { CsvOptions, SourceFormat } from '../plan/state.js';
import { requireNonEmpty, resolveSource, schemeOf, stampFile } from '../storage/location.js';
import type { Settings } from '../storage/config.js';
import { isRemoteObject, localCopy, stageObject, type LocalCopy } from '../storage/remote.js';
import { recordTrustedSource } from '../storage/trust.js';
import { checkSaveAs, storageFor, storeSource, type SaveAs } from './stored.js';

export interface AttachOptions extends CsvOptions {
  format?: 'parquet' | 'csv' | 'json';
  /** Attach into the named join instead of the base pack. */
  join?: string;
  /**
   * How to keep the source (see stored.ts): `auto` (default for files: CSV/TSV/JSON stored as
   * Parquet, Parquet copied), `copy`, `parquet`, or `ref` (read in place; default for `function://`
   * and remote objects).
   */
  saveAs?: SaveAs;
  /** Called while a source is stored (copied: bytes; converted: DuckDB's progress). */
  onProgress?: ProgressListener;
}

/** Where a bundle records and stores its sources. */
export interface AttachTarget {
  /** The bundle's directory: relative sources resolve against it (undefined in memory or a bucket). */
  baseDir: string | undefined;
  /**
   * Where stored data goes: the bundle's directory, an in-memory bundle's temporary one, a bucket
   * bundle's staging directory (uploaded by its commit), or none (a bundle on a web server).
   */
  storeDir: string | undefined;
  /** The bundle's url when it is in a bucket: stored data is recorded relative to it and read beside it. */
  baseUrl?: string;
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
  target: AttachTarget,
  database: (extraFiles: string[]) => Promise<EngineDatabase>,
  settings: Settings,
): Promise<AttachBlock> {
  requireNonEmpty(url, 'Attach URL');
  const format = detectFormat(url, options.format);
  const saveAs = checkSaveAs(options.saveAs);
  const { baseDir } = target;
  const csv = pickCsv(options);
  const location = resolveSource(url, baseDir);
  const local = format !== 'function' && schemeOf(location) === undefined;
  const isRemote = format !== 'function' && isRemoteObject(location);
  const storage = storageFor(saveAs, { format }, url, isRemote, target.storeDir !== undefined);
  // a source in a bucket or on a web server is read from its copy in the content cache
  const remote = isRemote ? await localCopy(location, settings) : undefined;
  const readable = remote ? [remote.file] : local ? [location] : [];
  let facts: SourceFacts;
  if (storage === 'ref' || target.storeDir === undefined) {
    facts = await inspectSource(await database(readable), url, format, csv, baseDir, remote);
    // the user attached it here, so reopening this bundle on this machine may read it (access.ts)
    if (local) await recordTrustedSource(location);
  } else {
    // the original's stamp is kept for the record; reads never look at the original again
    const stamp = remote ? { version: remote.version, bytes: remote.bytes } : local ? await stampFile(location) : undefined;
    const read = remote?.file ?? (format === 'function' ? functionTableName(functionName(url)) : location);
    const dir = target.storeDir;
    const stored = await storeSource({ dir, source: url, block: { id: '', packId: '', location: read, format, csv }, storage, database, onProgress: options.onProgress });
    const copy = path.join(dir, ...stored.path.split('/'));
    // what reads will see is the stored copy: its schema and (Parquet: from metadata) its rows
    const inspected = await inspectSource(await database([copy]), copy, detectFormat(copy), storage === 'copy' ? csv : undefined, undefined, undefined).catch(async (err: unknown) => {
      // a copy that does not read as its format: keep nothing, and name the source, not the copy
      await rm(copy, { force: true });
      throw err instanceof BundlebaseError ? new BundlebaseError(err.code, err.message.replaceAll(copy, location).replace(`Attach ${location}`, `Attach ${url}`), { cause: err }) : err;
    });
    // a bucket bundle's reads find the copy in the content cache (by its hash) until the commit uploads it
    if (target.baseUrl !== undefined) await stageObject(target.baseUrl, stored.path, stored.hash, copy);
    const relative = dir === baseDir || target.baseUrl !== undefined;
    facts = { ...inspected, version: stamp?.version, bytes: stamp?.bytes, location: relative ? stored.path : copy, hash: stored.hash };
  }
  const fields: AttachBlockFields = {
    source: url,
    version: facts.version,
    id,
    packId,
    numRows: facts.numRows,
    bytes: facts.bytes,
    schema: { fields: facts.fields },
    format: options.format,
    csv,
    location: facts.location,
    hash: facts.hash,
  };
  return new AttachBlock(fields, { baseDir, baseUrl: target.baseUrl });
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
  /** The stored copy, when the source was stored (AttachBlockFields). */
  location?: string;
  hash?: string;
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
