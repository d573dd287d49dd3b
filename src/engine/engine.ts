import './allocator.js'; // first: DuckDB's library loads with its allocator settings
import * as arrow from 'apache-arrow';
import duckdb from '@duckdb/node-bindings';
import {
  DuckDBConnection,
  DuckDBPreparedStatement,
  DuckDBTypeId,
  type DuckDBTableFunction,
} from '@duckdb/node-api';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BundlebaseError, fromEngineError } from '../errors.js';
import { batchReader, type BatchReader, type Conversion } from './arrow/batches.js';
import { nativeFunctionSources, type SourceRequestHandler } from './arrow/native.js';
import { sqlType, type SqlType } from './arrow/types.js';
import { bindParams, type ParamValue } from './params.js';

export type { SqlType } from './arrow/types.js';

/** One SQL statement with its `$n` parameters: the unit the engine runs. */
export interface Statement {
  sql: string;
  params: readonly ParamValue[];
}

/** How {@link EngineConnection.streamArrow} reads a result. */
export interface ArrowStreamOptions {
  /** 'js' forces the pure-JS converter; default: `BUNDLEBASE_CONVERSION`, else native when it can. */
  conversion?: Conversion;
  /** Told, once the result has started, which converter reads it and the batches' schema. */
  onStart?: (reader: { conversion: Conversion; schema: arrow.Schema }) => void;
  /** The caller keeps every batch to the end (a whole table): memory is laid out for that. */
  keepsAll?: boolean;
}

/** How far a running statement has got (DuckDB's estimate). */
export interface Progress {
  /** 0–100, or -1 when DuckDB cannot tell. */
  percentage: number;
  rowsProcessed: number;
  totalRows: number;
}

export type ProgressListener = (progress: Progress) => void;

export interface ColumnInfo {
  name: string;
  type: SqlType;
}

export interface Description {
  columns: ColumnInfo[];
  /** The columns as the Arrow schema of the statement's batches. */
  schema: arrow.Schema;
  parameterCount: number;
  /** The type DuckDB infers for each `$n` from where it is used (undefined when it cannot tell). */
  parameterTypes: (SqlType | undefined)[];
}

/** Files a restricted database may read and write: everything else is refused by DuckDB itself. */
export interface FileAccess {
  /** Directories, with everything under them. */
  directories: readonly string[];
  /** Single files. */
  files: readonly string[];
}

/** Resource settings of a restricted database. */
export interface SandboxSettings {
  /** DuckDB `memory_limit`, e.g. '1GB'. */
  memoryLimit?: string;
  threads?: number;
  /** Where DuckDB spills (it must be private: spilled rows are readable there). */
  spillDirectory?: string;
}

const literal = (v: string) => `'${v.replaceAll("'", "''")}'`;

let privateDir: string | undefined;

/** A new in-memory DuckDB database, configured as @duckdb/node-api's DuckDBInstance.create does. */
async function openDatabase(threads?: number): Promise<duckdb.Database> {
  const config = duckdb.create_config();
  duckdb.set_config(config, 'duckdb_api', 'node-neo-api');
  if (threads !== undefined) duckdb.set_config(config, 'threads', String(Math.max(1, Math.floor(threads))));
  // DuckDB keeps the file blocks it reads in its buffer pool (up to memory_limit, 80 % of RAM):
  // a stream's RSS then grows with the file (+90 MB per 60 M Parquet rows). Reads here are one
  // pass each, so the cache buys nothing and costs constant memory
  duckdb.set_config(config, 'enable_external_file_cache', 'false');
  return duckdb.open(':memory:', config);
}

/**
 * A directory only this process (and user) can read, for spilled rows and temporary lookup files;
 * every restricted database may use it. Removed when the process exits.
 */
export function privateTempDir(): string {
  if (privateDir === undefined) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bundlebase-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    privateDir = dir;
  }
  return privateDir;
}

/**
 * A DuckDB database. The shared one reads anything (trusted work); a restricted one has external
 * access off and can touch only the files of its {@link FileAccess}, its configuration locked so
 * SQL cannot lift that. Function sources are registered per database (see functions.ts).
 */
export class EngineDatabase {
  /** The unrestricted databases, by thread count (undefined: DuckDB's default, one per core). */
  private static readonly shared = new Map<number | undefined, Promise<EngineDatabase>>();
  private static readonly restrictedCache = new Map<string, Promise<EngineDatabase>>();
  /** @internal Table functions registered on this database, and the connection that did it. */
  readonly registeredFunctions = new Set<string>();
  /** @internal */
  registrar: Promise<EngineConnection> | undefined;

  private constructor(
    private readonly handle: duckdb.Database,
    readonly access: FileAccess | 'unrestricted',
    /** The spill directory picked for this database (none when the caller gave one): removed at close. */
    private readonly ownSpillDirectory?: string,
  ) {}

  /**
   * The process's unrestricted database (function sources registered on it stay for every read);
   * `threads` asks for one of its own at that many threads.
   */
  static unrestricted(threads?: number): Promise<EngineDatabase> {
    let database = EngineDatabase.shared.get(threads);
    if (!database) {
      database = openDatabase(threads).then((handle) => new EngineDatabase(handle, 'unrestricted'));
      EngineDatabase.shared.set(threads, database);
    }
    return database;
  }

  /** A new restricted database; the caller owns it and closes it. */
  static async restricted(access: FileAccess, settings: SandboxSettings = {}): Promise<EngineDatabase> {
    const handle = await openDatabase();
    const setup = new DuckDBConnection(await duckdb.connect(handle));
    // a directory of its own (DuckDB names its spill files per database, not per process), not
    // made here: DuckDB makes it on the first spill, inside the private directory, so spilled rows
    // stay unreadable to others
    const ownSpillDirectory = settings.spillDirectory === undefined ? path.join(privateTempDir(), `spill-${randomUUID()}`) : undefined;
    // DuckDB wants a trailing separator on directories, else /data would also allow /data-private
    const directories = access.directories.map((d) => (d.endsWith(path.sep) ? d : d + path.sep));
    const statements = [
      ...(settings.memoryLimit !== undefined ? [`SET memory_limit = ${literal(settings.memoryLimit)}`] : []),
      ...(settings.threads !== undefined ? [`SET threads = ${Math.max(1, Math.floor(settings.threads))}`] : []),
      `SET temp_directory = ${literal(settings.spillDirectory ?? ownSpillDirectory!)}`,
      ...(directories.length > 0 ? [`SET allowed_directories = [${directories.map(literal).join(', ')}]`] : []),
      ...(access.files.length > 0 ? [`SET allowed_paths = [${access.files.map(literal).join(', ')}]`] : []),
      'SET enable_external_access = false',
      // progress is tracked (not printed) from the start: the locked configuration cannot turn it on later
      PROGRESS_ON,
      'SET lock_configuration = true',
    ];
    try {
      // one round trip to DuckDB's thread, in order (every bundle read opens such a database)
      await setup.run(statements.join('; '));
    } catch (err) {
      duckdb.close_sync(handle);
      throw fromEngineError(err, 'Configuring a restricted database');
    } finally {
      setup.closeSync();
    }
    return new EngineDatabase(handle, access, ownSpillDirectory);
  }

  /**
   * A restricted database for `access`, shared by every bundle that needs the same access (the
   * few most recent are kept; an evicted one lives on until its connections close).
   */
  static forAccess(access: FileAccess | 'unrestricted', threads?: number): Promise<EngineDatabase> {
    if (access === 'unrestricted') return EngineDatabase.unrestricted(threads);
    const key = JSON.stringify([[...access.directories].sort(), [...access.files].sort(), threads ?? null]);
    const cache = EngineDatabase.restrictedCache;
    let database = cache.get(key);
    if (database) {
      cache.delete(key); // re-inserted as the most recent
    } else {
      database = EngineDatabase.restricted(access, { threads });
      database.catch(() => cache.delete(key));
    }
    cache.set(key, database);
    while (cache.size > RESTRICTED_CACHE_SIZE) cache.delete(cache.keys().next().value!);
    return database;
  }

  async connect(): Promise<EngineConnection> {
    return new EngineConnection(await duckdb.connect(this.handle));
  }

  close(): void {
    duckdb.close_sync(this.handle);
    // DuckDB removes it only once the last connection is gone too
    if (this.ownSpillDirectory !== undefined) rmSync(this.ownSpillDirectory, { recursive: true, force: true });
  }
}

const RESTRICTED_CACHE_SIZE = 8;

/** A prepared statement that keeps its raw handle (for streaming and the native reader). */
class Prepared extends DuckDBPreparedStatement {
  constructor(readonly handle: duckdb.PreparedStatement) {
    super(handle);
  }
}

function schemaOf(columns: readonly ColumnInfo[]): arrow.Schema {
  return new arrow.Schema(columns.map((c) => new arrow.Field(c.name, c.type.arrow, true)));
}

/**
 * A connection to the engine. Each streaming read takes a connection of its own, because a DuckDB
 * connection holds one streaming result at a time and two streams must be readable interleaved.
 */
const PROGRESS_ON = 'SET enable_progress_bar = true; SET enable_progress_bar_print = false';

export class EngineConnection {
  private closed = false;
  private readonly raw: DuckDBConnection;

  /** @internal Engine modules only: use {@link EngineDatabase.connect} or {@link EngineConnection.open}. */
  constructor(private readonly handle: duckdb.Connection) {
    this.raw = new DuckDBConnection(handle);
  }

  /** A connection to `database`, by default the process's unrestricted one. */
  static async open(database?: EngineDatabase): Promise<EngineConnection> {
    return (database ?? (await EngineDatabase.unrestricted())).connect();
  }

  /** @internal Engine modules only (functions.ts): makes a table function callable on this database. */
  registerTableFunction(fn: DuckDBTableFunction): void {
    this.raw.registerTableFunction(fn);
  }

  /** @internal Engine modules only (functions.ts): registers the addon's function source table function. */
  registerNativeFunctionSource(tableName: string, handler: SourceRequestHandler): void {
    nativeFunctionSources()!.registerFunctionSource(this.handle, tableName, handler);
  }

  /** Reports progress every `intervalMs` while `work` runs (DuckDB must track it: enable_progress_bar). */
  async withProgress<T>(work: () => Promise<T>, onProgress: ProgressListener | undefined, intervalMs = 200): Promise<T> {
    if (!onProgress) return work();
    // restricted databases track it already (and refuse the SET once locked)
    const tracked = await this.raw.runAndReadAll("SELECT current_setting('enable_progress_bar') AS tracked");
    if (tracked.getRowObjects()[0]?.tracked !== true) await this.raw.run(PROGRESS_ON);
    const report = () => {
      const p = this.raw.progress;
      onProgress({ percentage: p.percentage, rowsProcessed: Number(p.rows_processed), totalRows: Number(p.total_rows_to_process) });
    };
    const timer = setInterval(report, intervalMs);
    try {
      const result = await work();
      onProgress({ percentage: 100, rowsProcessed: Number(this.raw.progress.rows_processed), totalRows: Number(this.raw.progress.total_rows_to_process) });
      return result;
    } finally {
      clearInterval(timer);
    }
  }

  private async prepareSql(sql: string, context: string): Promise<Prepared> {
    try {
      return new Prepared(await duckdb.prepare(this.handle, sql));
    } catch (err) {
      throw fromEngineError(err, context);
    }
  }

  private async prepare(stmt: Statement, context: string): Promise<Prepared> {
    const prepared = await this.prepareSql(stmt.sql, context);
    try {
      bindParams(prepared, stmt.params);
    } catch (err) {
      prepared.destroySync();
      throw err;
    }
    return prepared;
  }

  /**
   * Column names and types of a statement, from DuckDB binding it: no data is read. A column whose
   * type depends on an untyped parameter (`SELECT $1 AS x`) is unknown until values are bound:
   * with `params`, such a statement is bound and run with LIMIT 0 to learn it.
   */
  async describe(sql: string, context: string, params?: readonly ParamValue[]): Promise<Description> {
    const prepared = await this.prepareSql(sql, context);
    try {
      const columns: ColumnInfo[] = [];
      for (let i = 0; i < prepared.columnCount; i++) {
        const type = prepared.columnTypeId(i) === DuckDBTypeId.INVALID ? undefined : prepared.columnType(i);
        if (type === undefined) {
          if (params === undefined) throw new BundlebaseError('SQL_ERROR', `${context}: the type of column '${prepared.columnName(i)}' depends on a parameter without a type; cast it, e.g. CAST($1 AS VARCHAR)`);
          const columns = await this.describeBound(sql, context, params);
          return { columns, schema: schemaOf(columns), parameterCount: prepared.parameterCount, parameterTypes: [] };
        }
        columns.push({ name: prepared.columnName(i), type: sqlType(type) });
      }
      const parameterTypes = Array.from({ length: prepared.parameterCount }, (_, i) => {
        try {
          return sqlType(prepared.parameterType(i + 1));
        } catch {
          return undefined; // DuckDB could not infer it: the value is bound as sent
        }
      });
      return { columns, schema: schemaOf(columns), parameterCount: prepared.parameterCount, parameterTypes };
    } finally {
      prepared.destroySync();
    }
  }

  /** Columns of `sql` run with `params` bound and no row produced. */
  private async describeBound(sql: string, context: string, params: readonly ParamValue[]): Promise<ColumnInfo[]> {
    const prepared = await this.prepare({ sql: `SELECT * FROM (${sql}) LIMIT 0`, params }, context);
    try {
      const result = await prepared.run();
      return Array.from({ length: result.columnCount }, (_, i) => ({ name: result.columnName(i), type: sqlType(result.columnType(i)) }));
    } catch (err) {
      throw fromEngineError(err, context);
    } finally {
      prepared.destroySync();
    }
  }

  /** Runs a statement whose result is small (counts, plans, metadata) and returns its rows. */
  async queryRows(stmt: Statement, context: string): Promise<Record<string, unknown>[]> {
    const prepared = await this.prepare(stmt, context);
    try {
      const reader = await prepared.runAndReadAll();
      return reader.getRowObjectsJS() as Record<string, unknown>[];
    } catch (err) {
      throw fromEngineError(err, context);
    } finally {
      prepared.destroySync();
    }
  }

  /** Runs a statement for its effect (COPY …) and returns the rows it changed. */
  async execute(stmt: Statement, context: string): Promise<number> {
    const prepared = await this.prepare(stmt, context);
    try {
      return (await prepared.run()).rowsChanged;
    } catch (err) {
      throw fromEngineError(err, context);
    } finally {
      prepared.destroySync();
    }
  }

  /**
   * Streams a statement's result as Arrow RecordBatches, a group (one or a few DuckDB chunks) at a
   * time; the batches' schema comes with the result (no separate describe). One group is prefetched
   * while the caller uses the current one, so DuckDB and JS work in parallel with few chunks in
   * flight. Leaving the loop early interrupts the query and waits for work in flight before
   * releasing the statement.
   */
  async *streamArrow(stmt: Statement, context: string, options: ArrowStreamOptions = {}): AsyncGenerator<arrow.RecordBatch[]> {
    const prepared = await this.prepare(stmt, context);
    let pending: Promise<arrow.RecordBatch[] | null> | undefined;
    let reader: BatchReader | undefined;
    let finished = false;
    try {
      const result = await duckdb.execute_prepared_streaming(prepared.handle).catch((err) => {
        throw fromEngineError(err, context);
      });
      reader = batchReader(this.handle, result, options.conversion, options.keepsAll);
      options.onStart?.({ conversion: reader.conversion, schema: reader.schema });
      const current = reader;
      const fetch = () => {
        const next = current.next().catch((err) => {
          throw fromEngineError(err, context);
        });
        // prefetched while the consumer is paused at `yield`: an error then must wait for the
        // consumer's next `await pending`, not surface as an unhandled rejection (which kills Node)
        next.catch(() => undefined);
        return next;
      };
      pending = fetch();
      for (;;) {
        const item = await pending;
        pending = undefined;
        if (item === null) break;
        pending = fetch();
        yield item;
      }
      finished = true;
    } finally {
      if (!finished) {
        this.raw.interrupt();
        await pending?.catch(() => undefined);
      }
      await reader?.close();
      prepared.destroySync();
    }
  }

  /** DuckDB's parse tree of `sql` (json_serialize_sql): `{ error, statements }`. Nothing is bound or run. */
  async parseTree(sql: string): Promise<unknown> {
    const rows = await this.queryRows({ sql: 'SELECT json_serialize_sql($1::VARCHAR) AS tree', params: [sql] }, 'Parsing the query');
    return JSON.parse(String(rows[0]?.tree));
  }

  /** Stops the statement running on this connection (it then fails with an interrupt error). */
  interrupt(): void {
    if (!this.closed) this.raw.interrupt();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.raw.closeSync();
  }
}
