import type * as arrow from 'apache-arrow';
import type { Bundle } from '../bundle/builder.js';
import { open } from '../bundle/open.js';
import { BundlebaseError } from '../errors.js';
import { EngineDatabase, type EngineConnection, type SqlType, type Statement } from '../engine/engine.js';
import type { Trust } from '../bundle/load.js';
import type { ParamValue } from '../engine/params.js';
import { resolveLimits, type ServerLimits } from './limits.js';
import { checkClientQuery } from '../plan/guard.js';
import { composeClientQuery, EMPTY_RELATION, selectAll } from '../plan/statements.js';
import { CREATE_INFO_SCHEMA, createInfoTable, infoRelation, INFO_SCHEMA, INFO_TABLE_NAMES } from '../plan/info.js';
import { CATALOG_TABLES, catalogStatements, rewriteForCatalog, type ServedTable } from './catalog.js';

const CATALOG_NAMES: ReadonlySet<string> = new Set(CATALOG_TABLES);
/** The bundle_info tables, which clients name qualified (`bundle_info.history`). */
const INFO_NAMES: ReadonlySet<string> = new Set(INFO_TABLE_NAMES.map(infoRelation));

export interface Prepared {
  statement: Statement;
  schema: arrow.Schema;
  /** DuckDB's inferred type for each of the client's `$n` (undefined: unknown, sent as text). */
  parameterTypes: (SqlType | undefined)[];
}

/**
 * Read-only SQL over one bundle for network clients: the table `bundle` and each view by name,
 * run in a sandboxed DuckDB database that can read only the bundle's own source files.
 */
export class BundleQueries {
  private readonly slots: Slots;
  /** The databases this has opened (one per reload), closed at close: DuckDB then removes their spill directories. */
  private readonly databases: EngineDatabase[] = [];
  private trust: Trust | undefined;
  /** Counts reloads: a connection made before the last one reads the version before it. */
  generation = 0;

  private constructor(
    private readonly limits: ServerLimits,
    public bundle: Bundle,
    private relations: { name: string; statement: Statement }[],
    private database: EngineDatabase,
    /** What the catalogs list: the bundle (a table) and its views, with their columns. */
    public tables: ServedTable[],
  ) {
    this.slots = new Slots(limits.maxConcurrentQueries);
    this.databases.push(database);
  }

  static async open(url: string, limits: ServerLimits = resolveLimits(), options: { trust?: Trust } = {}): Promise<BundleQueries> {
    const bundle = await open(url, { trust: options.trust });
    const relations: { name: string; statement: Statement }[] = [];
    // compiling first refuses untrusted sources: only checked files are ever allowed here
    const base = await bundle.sqlStatement();
    const files = new Set<string>(bundle.sourceFiles());
    relations.push({ name: 'bundle', statement: base ?? EMPTY_RELATION });
    for (const name of bundle.views().values()) {
      const view = await bundle.view(name);
      const statement = await view.sqlStatement();
      if (statement) relations.push({ name, statement });
      view.sourceFiles().forEach((f) => files.add(f));
      await view.close();
    }
    // spills go to limits.spillDirectory, else to a private directory of the database's own, which
    // DuckDB removes when the database closes (DuckDB's default, ./.tmp, is readable by anyone)
    const { memoryLimit, threads, spillDirectory } = limits;
    const database = await EngineDatabase.restricted({ directories: [], files: [...files] }, { memoryLimit, threads, spillDirectory });
    const queries = new BundleQueries(limits, bundle, relations, database, []);
    queries.trust = options.trust;
    try {
      await queries.describeTables();
    } catch (err) {
      await queries.close();
      throw err;
    }
    return queries;
  }

  /** Lists the bundle, its views and the bundle_info tables in the catalogs, each with its columns. */
  private async describeTables(): Promise<void> {
    const { bundle, relations, database, tables } = this;
    const connection = await database.connect();
    try {
      for (const r of relations) {
        const { schema } = await connection.describe(selectAll(r.statement), `Describing ${r.name}`);
        tables.push({ name: r.name, schemaName: 'public', kind: r.name === 'bundle' ? 'TABLE' : 'VIEW', schema, description: r.name === 'bundle' ? bundle.description : undefined });
      }
      await connection.execute(CREATE_INFO_SCHEMA, 'Creating the bundle_info tables');
      for (const [name, statement] of await bundle.infoStatements()) {
        await connection.execute(createInfoTable(name, statement), 'Creating the bundle_info tables');
        const { schema } = await connection.describe(selectAll(statement), `Describing bundle_info.${name}`);
        tables.push({ name, schemaName: INFO_SCHEMA, kind: 'TABLE', schema });
      }
      for (const sql of catalogStatements(tables)) await connection.execute({ sql, params: [] }, 'Creating the catalogs');
    } finally {
      connection.close();
    }
  }

  /**
   * The client's SQL with `bundle` and the views bound as CTEs. DuckDB's parser checks it first
   * (see plan/guard.ts). The client's text is never rewritten: its `$1…$k` stay the first
   * parameters and the bundle's own are numbered after them, so no client text can name them.
   */
  private async compose(connection: EngineConnection, sql: string): Promise<{ statement: Statement; clientParams: number }> {
    const text = rewriteForCatalog(sql.trim().replace(/;\s*$/, ''));
    const { parameterCount } = checkClientQuery(await connection.parseTree(text), new Set(this.relations.map((r) => r.name)), CATALOG_NAMES, INFO_NAMES);
    return { statement: composeClientQuery(this.relations, text, parameterCount), clientParams: parameterCount };
  }

  async connect(): Promise<EngineConnection> {
    return this.database.connect();
  }

  /** Binds the client's SQL (no data read): its columns and parameter types. */
  async prepare(connection: EngineConnection, sql: string): Promise<Prepared> {
    const { statement, clientParams } = await this.compose(connection, sql);
    const description = await connection.describe(statement.sql, 'Query');
    return {
      statement,
      schema: description.schema,
      parameterTypes: description.parameterTypes.slice(0, clientParams),
    };
  }

  /**
   * Streams the rows of a prepared query with the client's parameter values, within the limits:
   * it waits for a free query slot, is interrupted after the statement timeout, and `signal` (the
   * client went away, the server is shutting down) interrupts it.
   */
  async *stream(connection: EngineConnection, prepared: Prepared, values: readonly ParamValue[] = [], options: { signal?: AbortSignal } = {}): AsyncGenerator<arrow.RecordBatch[]> {
    if (values.length !== prepared.parameterTypes.length) {
      throw new BundlebaseError('INVALID_ARGUMENT', `The query expects ${prepared.parameterTypes.length} parameter(s) but ${values.length} were given`);
    }
    const statement = { sql: prepared.statement.sql, params: [...values, ...prepared.statement.params] };
    const { statementTimeoutMs } = this.limits;
    const release = await this.slots.acquire(statementTimeoutMs, options.signal);
    let timedOut = false;
    const interrupt = () => connection.interrupt();
    const timer = statementTimeoutMs > 0
      ? setTimeout(() => {
          timedOut = true;
          interrupt();
        }, statementTimeoutMs)
      : undefined;
    options.signal?.addEventListener('abort', interrupt, { once: true });
    try {
      yield* connection.streamArrow(statement, 'Query');
    } catch (err) {
      if (timedOut) throw new BundlebaseError('TIMEOUT', `Query cancelled: it ran longer than the statement timeout (${statementTimeoutMs / 1000} s)`, { cause: err });
      throw err;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', interrupt);
      release();
    }
  }

  /**
   * Serves the bundle's newest commit from now on (serve --writable, after a client's COMMIT): a
   * new sandboxed database for it; queries already running finish on the one they started in.
   */
  async reload(): Promise<void> {
    const fresh = await BundleQueries.open(this.bundle.url, this.limits, { trust: this.trust });
    const old = this.bundle;
    ({ bundle: this.bundle, relations: this.relations, database: this.database, tables: this.tables } = fresh);
    this.databases.push(...fresh.databases);
    this.generation++;
    await old.close();
  }

  async close(): Promise<void> {
    await this.bundle.close();
    for (const database of this.databases.splice(0)) database.close();
  }
}

/** Counts queries running at once; a query waits for a free slot up to a deadline. */
class Slots {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly size: number) {}

  /** Resolves to the slot's release once one is free; BUSY after `timeoutMs` (0: wait forever). */
  async acquire(timeoutMs: number, signal?: AbortSignal): Promise<() => void> {
    if (this.running >= this.size) await this.wait(timeoutMs, signal);
    this.running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      this.waiting.shift()?.();
    };
  }

  private wait(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const fail = (err: BundlebaseError) => {
        this.waiting.splice(this.waiting.indexOf(wake), 1);
        clearTimeout(timer);
        reject(err);
      };
      const wake = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => fail(new BundlebaseError('CANCELLED', 'Query cancelled before it started'));
      const timer = timeoutMs > 0
        ? setTimeout(() => fail(new BundlebaseError('BUSY', `The server is busy: ${this.size} queries are running (max concurrent queries); try again`)), timeoutMs)
        : undefined;
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(wake);
    });
  }
}
