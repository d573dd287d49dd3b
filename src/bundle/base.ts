import * as arrow from 'apache-arrow';
import path from 'node:path';
import { columnsOf, objectsOf } from '../arrow/values.js';
import { EngineDatabase, type EngineConnection, type Description, type Statement } from '../engine/engine.js';
import type { ParamValue } from '../engine/params.js';
import { BundlebaseError, invalidArgument, isNoColumnsError, notFound } from '../errors.js';
import { CreateView } from '../operations/createView.js';
import type { Operation } from '../operations/operation.js';
import { storeFor } from '../storage/store.js';
import { compile, recordedRowCount, reshapesColumns } from '../plan/compile.js';
import { copyStatement, countStatement, EMPTY_RELATION, explainStatement, isCopyFormat, profileStatement } from '../plan/statements.js';
import { profiledColumns, profilesOf } from './profile.js';
import { infoRows, type InfoSources } from './info.js';
import { infoNamesIn, infoRelation, infoStatement, INFO_TABLE_NAMES, isInfoTable, type InfoTableName } from '../plan/info.js';
import { PlanState } from '../plan/state.js';
import { allCommits, asOf, chainSettings, committedOperations, loadBundle, versionOf, type CommitRecord, type LoadedBundle } from './load.js';
import { readAccess } from './access.js';
import type { ExportTarOptions } from './pack.js';
import { exportTarFrom, pushBundle, type PushOptions, type PushResult } from './push.js';
import { checkData, fetchIndexFiles, readThreads, registerFunctions, verifySources, type DataCheck } from './sources.js';
import { holdStore, releaseStore } from './stored.js';
import { applyKnownLayouts, narrowByIndexes, type Narrowing } from '../indexing/lookup.js';
import type { Change, ColumnProfile, Commit, CountOptions, Diff, ExportFormat, ExportOptions, OperationInfo, StreamOptions } from './types.js';

/** Whether `sql` may name the relation `name` (as a word, or double-quoted); a false match only costs a bind. */
function namesRelation(sql: string, name: string): boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^\\w$])${escaped}($|[^\\w$])|"${escaped.replaceAll('"', '""')}"`, 'i').test(sql);
}

/** The read side shared by {@link Bundle} and {@link BundleBuilder}. */
export abstract class BundleBase implements AsyncDisposable {
  /** The connection for metadata work (describe, count, explain) on the database it belongs to. */
  private meta: { database: EngineDatabase; connection: Promise<EngineConnection> } | undefined;
  /** Earlier meta connections (the bundle's access grew since), closed with the bundle. */
  private readonly retired: Promise<EngineConnection>[] = [];
  private readonly descriptions = new Map<string, Promise<Description>>();
  private closed = false;

  protected constructor(protected loaded: LoadedBundle) {
    holdStore(loaded.store); // an in-memory bundle's stored files live while a handle is open
  }

  /** Every operation in effect, in order. */
  protected abstract effectiveOperations(): Operation[];

  /** The operations whose sources decide what the bundle's SQL may read (builders add the one being validated). */
  protected accessOperations(): Operation[] {
    return this.effectiveOperations();
  }

  /** Resolves once queued changes have been recorded (builders queue them). */
  protected async settled(): Promise<void> {}

  get id(): string {
    return this.loaded.id;
  }

  get url(): string {
    return this.loaded.url;
  }

  get version(): string {
    return versionOf(this.loaded);
  }

  get name(): string | undefined {
    return this.plan().name;
  }

  get description(): string | undefined {
    return this.plan().description;
  }

  /** Configuration set with `setConfig`: key (or `urlPrefix|key`) → value. */
  get config(): Map<string, { value: string; urlPrefix?: string }> {
    return this.plan().config;
  }

  protected plan(operations: readonly Operation[] = this.effectiveOperations()): PlanState {
    const state = new PlanState();
    for (const op of operations) op.apply(state);
    return state;
  }

  /** The compiled statement, after checking that the sources are still the ones attached. */
  protected async statement(): Promise<Statement | undefined> {
    this.assertOpen();
    await this.settled();
    return this.currentStatement();
  }

  /**
   * The statement for a data read, with index lookups applied (candidate records only). Call
   * `narrowing.cleanup()` once the read is over.
   */
  protected async readStatement(): Promise<{ stmt: Statement; narrowing: Narrowing } | undefined> {
    if (!(await this.statement())) return undefined;
    const state = this.plan();
    await this.prepare(state);
    const narrowing = await narrowByIndexes(state);
    return { stmt: compile(state)!, narrowing };
  }

  /** Runs `read` on the read statement, removing lookup files afterwards. */
  private async withRead<T>(empty: () => T | Promise<T>, read: (stmt: Statement) => Promise<T>): Promise<T> {
    const r = await this.readStatement();
    if (!r) return empty();
    try {
      return await read(r.stmt);
    } finally {
      await r.narrowing.cleanup();
    }
  }

  /** The statement for the operations recorded so far, without waiting for queued ones. */
  protected async currentStatement(): Promise<Statement | undefined> {
    await this.database(); // refuses untrusted sources before anything touches them
    await verifySources(this.effectiveOperations());
    return this.compileWithLayouts(this.plan());
  }

  /**
   * Compiles a plan, reading indexed CSV files with the options sniffed when they were indexed.
   * A pipeline that removed every column compiles to nothing, like a bundle without sources
   * (DuckDB has no relations without columns).
   */
  protected async compileWithLayouts(state: PlanState, context?: string): Promise<Statement | undefined> {
    await this.prepare(state);
    const stmt = compile(state);
    if (!stmt || !reshapesColumns(state)) return stmt;
    try {
      await this.describe(stmt, context);
      return stmt;
    } catch (err) {
      if (isNoColumnsError(err)) return undefined;
      throw err;
    }
  }

  /** What compiling needs beyond replay: CSV layouts sniffed at index time, views named in selects. */
  private async prepare(state: PlanState, binding: ReadonlySet<string> = new Set()): Promise<void> {
    await fetchIndexFiles(state, chainSettings(this.loaded, this.effectiveOperations()));
    await applyKnownLayouts(state);
    await this.bindViews(state, binding);
    await this.bindInfoTables(state);
  }

  /**
   * Binds each `bundle_info.x` a select step names to that table's rows: the bundle as it stands
   * before the first such select (its history, uncommitted changes, blocks, columns…).
   */
  private async bindInfoTables(state: PlanState): Promise<void> {
    const selects = state.steps.flatMap((s) => (s.kind === 'select' ? [s] : []));
    const named = new Set(selects.flatMap((s) => infoNamesIn(s.sql)));
    if (named.size === 0) return;
    const first = selects.find((s) => infoNamesIn(s.sql).length > 0)!;
    const before = new PlanState();
    before.resetTo(state);
    before.steps.splice(state.steps.indexOf(first));
    const sources: InfoSources = {
      commits: allCommits(this.loaded),
      changes: this.uncommittedBefore(first.sql),
      operations: this.effectiveOperations(),
      state: before,
      schema: async () => {
        try {
          return await this.schemaOf(compile(before));
        } catch (err) {
          if (isNoColumnsError(err)) return new arrow.Schema([]);
          throw err;
        }
      },
    };
    for (const name of named) {
      if (!isInfoTable(name)) throw notFound(`Table bundle_info.${name} does not exist; bundle_info tables: ${INFO_TABLE_NAMES.join(', ')}`);
      state.namedViews.set(infoRelation(name), infoStatement(name, await infoRows(name, sources)));
    }
  }

  /** The uncommitted changes recorded before the select `sql` (builders have some). */
  protected uncommittedBefore(_sql: string): Change[] {
    return [];
  }

  /** @internal Every `bundle_info` table of this bundle as it stands, for servers. */
  async infoStatements(): Promise<Map<InfoTableName, Statement>> {
    const state = this.plan();
    const sources: InfoSources = { commits: allCommits(this.loaded), changes: this.uncommittedBefore(''), operations: this.effectiveOperations(), state, schema: () => this.schema() };
    const tables = new Map<InfoTableName, Statement>();
    for (const name of INFO_TABLE_NAMES) tables.set(name, infoStatement(name, await infoRows(name, sources)));
    return tables;
  }

  /**
   * Binds each committed view a select step names to the view's statement, so `SELECT … FROM
   * by_region` works wherever SQL over `bundle` does. A view names other views the same way;
   * `binding` holds the views being bound above, so a view never binds itself.
   */
  private async bindViews(state: PlanState, binding: ReadonlySet<string>): Promise<void> {
    const sqls = state.steps.flatMap((s) => (s.kind === 'select' ? [s.sql] : []));
    if (sqls.length === 0) return;
    for (const [id, name] of state.views) {
      if (binding.has(id) || !sqls.some((sql) => namesRelation(sql, name))) continue;
      const store = this.viewStore(id);
      if (!store || !(await store.read('00000000000000000.yaml'))) continue; // not committed yet: DuckDB says the table is unknown
      const view = this.plan(committedOperations(await loadBundle(store.url, { trust: this.loaded.trust, settings: store.settings }, this.loaded.archive)));
      await this.prepare(view, new Set([...binding, id]));
      const stmt = compile(view);
      if (stmt) state.namedViews.set(name, stmt);
    }
  }

  /** A view's directory: inside the bundle whose commit created it (along the chain). */
  private viewStore(id: string) {
    const owner = allCommits(this.loaded).find((c) => c.changes.flat().some((op) => op instanceof CreateView && op.viewId === id));
    return owner ? storeFor(owner.url, this.loaded.store.settings).child(`view_${id}`) : undefined;
  }

  /**
   * The database this bundle's SQL runs in: restricted to the files it may read (see access.ts),
   * plus `extraFiles`; its function sources registered there.
   */
  protected async database(extraFiles: readonly string[] = []): Promise<EngineDatabase> {
    const operations = this.accessOperations();
    const access = await readAccess(this.loaded, operations, this.loaded.trust, extraFiles);
    const database = await EngineDatabase.forAccess(access, readThreads(operations, extraFiles));
    await registerFunctions(operations, database);
    return database;
  }

  protected async connection(): Promise<EngineConnection> {
    this.assertOpen();
    const database = await this.database();
    if (this.meta?.database !== database) {
      if (this.meta) this.retired.push(this.meta.connection);
      this.meta = { database, connection: database.connect() };
    }
    return this.meta.connection;
  }

  /** DuckDB's description of a statement, cached per SQL text (the schema never needs a scan). */
  protected async describe(stmt: Statement, context = `Bundle ${this.url}`): Promise<Description> {
    const { sql } = stmt;
    let cached = this.descriptions.get(sql);
    if (!cached) {
      cached = this.connection().then((c) => c.describe(sql, context, stmt.params));
      this.descriptions.set(sql, cached);
      cached.catch(() => this.descriptions.delete(sql));
    }
    return cached;
  }

  async schema(): Promise<arrow.Schema> {
    return this.schemaOf(await this.statement());
  }

  protected async schemaOf(stmt: Statement | undefined): Promise<arrow.Schema> {
    if (!stmt) return new arrow.Schema([]);
    return (await this.describe(stmt)).schema;
  }

  async numRows(options: CountOptions = {}): Promise<number> {
    // the read settles queued changes and refuses closed bundles and changed sources, once
    return this.withRead(() => 0, async (stmt) => {
      const recorded = recordedRowCount(this.plan());
      if (recorded !== undefined) return recorded;
      const connection = await this.connection();
      const count = () => connection.queryRows(countStatement(stmt), `Counting rows of ${this.url}`);
      const rows = await connection.withProgress(count, options.onProgress);
      return Number(rows[0]!.n);
    });
  }

  /**
   * Profiles the columns (all, or those named) in one streaming pass: per column its type, rows,
   * NULLs, approximate distinct values, min, max and, for numbers, mean and standard deviation.
   */
  async describeData(columns?: string[]): Promise<ColumnProfile[]> {
    const stmt = await this.statement();
    const chosen = await profiledColumns(stmt ? (await this.describe(stmt)).columns : [], columns, this.url);
    return this.withRead(() => [], async (read) => {
      const connection = await (await this.database()).connect();
      try {
        const row = await onlyRow(connection.streamArrow(profileStatement(read, chosen), `Profiling ${this.url}`));
        return profilesOf(chosen, row);
      } finally {
        connection.close();
      }
    });
  }

  /** DuckDB's physical plan for the pipeline (index lookups applied), exactly as EXPLAIN prints it. */
  async explain(): Promise<string> {
    return this.withRead(() => this.explainSql(EMPTY_RELATION), (stmt) => this.explainSql(stmt));
  }

  private async explainSql(stmt: Statement): Promise<string> {
    const rows = await (await this.connection()).queryRows(explainStatement(stmt), `Explaining ${this.url}`);
    return rows.map((r) => String(r.explain_value)).join('\n');
  }

  /**
   * Streams the result as Arrow RecordBatches, one DuckDB chunk at a time: memory stays flat
   * whatever the data size. Breaking out of the loop stops the query.
   */
  stream(options: StreamOptions = {}): AsyncIterable<arrow.RecordBatch> {
    return { [Symbol.asyncIterator]: () => this.batches(options) };
  }

  /** `keepsAll`: the caller holds every batch (toArrow), see ArrowStreamOptions. */
  private async *batches(options: StreamOptions, keepsAll = false): AsyncGenerator<arrow.RecordBatch> {
    const read = await this.readStatement();
    if (!read) return;
    const { stmt, narrowing } = read;
    let connection: EngineConnection | undefined;
    const abort = () => connection?.interrupt();
    try {
      connection = await (await this.database()).connect();
      options.signal?.addEventListener('abort', abort);
      // the schema comes with the result: no separate describe (for CSV/JSON that is a second sniff)
      const batches = connection.streamArrow(stmt, `Reading ${this.url}`, { keepsAll });
      for await (const group of batches) {
        for (const batch of group) {
          if (options.signal?.aborted) return;
          yield batch;
        }
      }
    } finally {
      options.signal?.removeEventListener('abort', abort);
      connection?.close();
      await narrowing.cleanup();
    }
  }

  /** The whole result as one Arrow Table. Materialises: use `stream()` for large data. */
  async toArrow(): Promise<arrow.Table> {
    const batches: arrow.RecordBatch[] = [];
    for await (const batch of this.batches({}, true)) batches.push(batch);
    return batches.length > 0 ? new arrow.Table(batches) : new arrow.Table(await this.schema());
  }

  /** Every row as a plain object (see README for the value mapping). Materialises. */
  async toObjects(): Promise<Record<string, unknown>[]> {
    return objectsOf(await this.toArrow());
  }

  /** Column name → every value of that column. Materialises. */
  async toColumns(): Promise<Record<string, unknown[]>> {
    return columnsOf(await this.toArrow());
  }

  /** Writes the result to a file; DuckDB streams it from the sources to the file, no rows pass through JS. */
  async export(file: string, options: ExportOptions = {}): Promise<{ rows: number }> {
    if (typeof file !== 'string' || file.trim() === '') throw invalidArgument('Export path must be a non-empty string');
    const format = options.format ?? formatFromExtension(file);
    if (!isCopyFormat(format)) throw invalidArgument(`Unknown export format '${format}'; use parquet, csv or json`);
    const target = path.resolve(file);
    const none = Symbol('no sources');
    const rows = await this.withRead<number | typeof none>(() => none, async (stmt) => {
      const copy = copyStatement(stmt, target, format);
      // the target (and DuckDB's temporary file beside it) is writable for this export only
      const connection = await (await this.database(exportFiles(target))).connect();
      try {
        return await connection.withProgress(() => connection.execute(copy, `Exporting ${this.url} to ${target}`), options.onProgress);
      } finally {
        connection.close();
      }
    });
    if (rows === none) throw invalidArgument(`Bundle ${this.url} has no sources to export`);
    return { rows };
  }

  /**
   * Checks the data this bundle reads: re-hashes every stored file of every version and checks
   * every referenced local source of the current state. `ok` when nothing is wrong; else each
   * problem names the source, its block, the file and what is wrong (missing, corrupt, changed).
   */
  async verifyData(): Promise<DataCheck> {
    this.assertOpen();
    await this.settled();
    const current = this.effectiveOperations();
    return checkData([...committedOperations(this.loaded), ...current], current, chainSettings(this.loaded, current));
  }

  /**
   * Writes the committed bundle as one .tar / .tar.gz: its whole from-chain with views, index and
   * stored files, and the local files its referenced sources read. `open('x.tar')` reads it.
   */
  async exportTar(file: string, options: ExportTarOptions = {}): Promise<void> {
    this.assertOpen();
    await this.settled();
    await exportTarFrom(this.loaded, file, options);
  }

  /**
   * Copies the committed bundle to `url` (directory, bucket, `.tar`) as one bundle standing
   * alone: every version, views and data of its whole chain, sending only what the target lacks.
   * CONFLICT when the target holds commits this bundle lacks.
   */
  async push(url: string, options: PushOptions = {}): Promise<PushResult> {
    this.assertOpen();
    await this.settled();
    return pushBundle(this.loaded, url, options);
  }

  /** Commits across the whole from-chain, oldest first. */
  history(): Commit[] {
    return allCommits(this.loaded).map(toCommit);
  }

  /**
   * What changed between two committed versions (12 hex or commit number; `to` defaults to the
   * current one): the commits and operations in between, and the columns added, removed or retyped.
   */
  async diff(from: string | number, to?: string | number): Promise<Diff> {
    this.assertOpen();
    const a = asOf(this.loaded, from);
    const b = to === undefined ? this.loaded : asOf(this.loaded, to);
    const before = allCommits(a);
    const after = allCommits(b);
    let common = 0;
    while (common < before.length && common < after.length && before[common]!.version === after[common]!.version) common++;
    const [schemaA, schemaB] = await Promise.all([a, b].map(async (bundle) => this.schemaOf(await this.compileWithLayouts(this.plan(committedOperations(bundle))))));
    const typeOf = (schema: arrow.Schema) => new Map(schema.fields.map((f) => [f.name, String(f.type)]));
    const typesA = typeOf(schemaA!);
    const typesB = typeOf(schemaB!);
    const added = after.slice(common).map(toCommit);
    return {
      from: versionOf(a),
      to: versionOf(b),
      commits: added,
      operations: added.flatMap((c) => c.operations),
      removedCommits: before.slice(common).map(toCommit),
      schema: {
        added: [...typesB.keys()].filter((n) => !typesA.has(n)),
        removed: [...typesA.keys()].filter((n) => !typesB.has(n)),
        changed: [...typesB].filter(([n, t]) => typesA.has(n) && typesA.get(n) !== t).map(([name, t]) => ({ name, from: typesA.get(name)!, to: t })),
      },
    };
  }

  operations(): OperationInfo[] {
    return this.effectiveOperations();
  }

  /** @internal The compiled statement of the pipeline (undefined without sources), for servers. */
  async sqlStatement(): Promise<Statement | undefined> {
    return this.statement();
  }

  /** @internal The local files this bundle reads (sources of every pack). */
  sourceFiles(): string[] {
    return [...this.plan().packs.values()].flat().filter((b) => b.format !== 'function').map((b) => b.location);
  }

  /** View id → name. */
  views(): Map<string, string> {
    return new Map(this.plan().views);
  }

  /** The id of a view named `nameOrId` (or with that id); NOT_FOUND listing the views otherwise. */
  protected viewId(nameOrId: string): string {
    const views = this.plan().views;
    if (views.has(nameOrId)) return nameOrId;
    const found = [...views].find(([, name]) => name === nameOrId);
    if (found) return found[0];
    const available = [...views].map(([id, name]) => `${name} (${id})`).join(', ');
    throw notFound(`View '${nameOrId}' not found; available: ${available || 'none'}`);
  }

  /** Opens a committed view read-only (subclasses return it as a Bundle). */
  abstract view(nameOrId: string): Promise<BundleBase>;

  /** A new builder whose rows are the result of `sql` over the table `bundle` (Bundle and BundleBuilder). */
  abstract select(sql: string, params?: ParamValue[]): PromiseLike<BundleBase>;

  /** A committed view's state: the parent's committed operations, then the view's own. */
  protected async loadView(nameOrId: string): Promise<LoadedBundle> {
    this.assertOpen();
    await this.settled();
    const id = this.viewId(nameOrId);
    const store = this.viewStore(id) ?? this.loaded.store.child(`view_${id}`);
    if (!(await store.read('00000000000000000.yaml'))) {
      throw notFound(`View '${nameOrId}' is not committed yet; commit the bundle first`);
    }
    return loadBundle(store.url, { trust: this.loaded.trust, settings: store.settings }, this.loaded.archive);
  }

  protected assertOpen(): void {
    if (this.closed) throw new BundlebaseError('CLOSED', `Bundle ${this.url} is closed`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const connections = [...this.retired, ...(this.meta ? [this.meta.connection] : [])];
    this.meta = undefined;
    this.retired.length = 0;
    for (const c of await Promise.all(connections.map((p) => p.catch(() => undefined)))) c?.close();
    await releaseStore(this.loaded.store);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** The single row of a one-row result (an aggregate), its values as `toObjects()` gives them. */
async function onlyRow(groups: AsyncIterable<arrow.RecordBatch[]>): Promise<Record<string, unknown>> {
  let row: Record<string, unknown> | undefined;
  for await (const group of groups) for (const batch of group) row ??= objectsOf(batch)[0];
  return row ?? {};
}

function toCommit(c: CommitRecord): Commit {
  return {
    version: c.version,
    author: c.doc.author,
    message: c.doc.message,
    timestamp: c.doc.timestamp,
    changes: c.doc.changes.map((change, i) => ({ id: change.id, description: change.description, operations: c.changes[i]! })),
    operations: c.changes.flat(),
  };
}

/** An export target and the temporary file DuckDB writes before replacing it. */
function exportFiles(target: string): string[] {
  return [target, path.join(path.dirname(target), `tmp_${path.basename(target)}`)];
}

function formatFromExtension(file: string): ExportFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.parquet' || ext === '.pq') return 'parquet';
  if (ext === '.csv') return 'csv';
  if (ext === '.json' || ext === '.jsonl' || ext === '.ndjson') return 'json';
  // writing Parquet into out.txt would surprise whoever opens it
  throw invalidArgument(`Cannot tell the export format of '${file}' from its extension: name it .parquet, .csv or .json, or give the format explicitly`);
}

