import { randomUUID } from 'node:crypto';
import { buildIndexFiles, indexOn, unindexedBlocks } from '../indexing/orchestrate.js';
import { CreateIndex } from '../operations/createIndex.js';
import { DropIndex } from '../operations/dropIndex.js';
import { RebuildIndex } from '../operations/rebuildIndex.js';
import { validateParams, type ParamValue } from '../engine/params.js';
import { BundlebaseError, invalidArgument, isNoColumnsError, notFound } from '../errors.js';
import { defineSourceFunction, outputColumns, type FunctionDefinition } from '../engine/functions.js';
import { AttachBlock, detectFormat, isFunctionSource } from '../operations/attachBlock.js';
import { attachedBlocks } from '../operations/blocks.js';
import { DetachBlock } from '../operations/detachBlock.js';
import { ReplaceBlock } from '../operations/replaceBlock.js';
import { Restore } from '../operations/restore.js';
import { CreateView } from '../operations/createView.js';
import { DefinePack } from '../operations/definePack.js';
import { IndexBlocks } from '../operations/indexBlocks.js';
import { DropView } from '../operations/dropView.js';
import { DefineFunction } from '../operations/defineFunction.js';
import { Filter } from '../operations/filter.js';
import { Join, parseJoinType } from '../operations/join.js';
import { SetConfig, SetDescription, SetName } from '../operations/metadata.js';
import { requireColumns, requireSources, type CheckContext, type Operation } from '../operations/operation.js';
import { AddColumn } from '../operations/addColumn.js';
import { CastColumn } from '../operations/castColumn.js';
import { AlwaysDelete, Delete } from '../operations/deleteRows.js';
import { normalizingRenames } from '../operations/normalizeColumnNames.js';
import { AlwaysUpdate, UpdateData } from '../operations/updateRows.js';
import { formatSetClause } from '../plan/sql.js';
import { RemoveColumns } from '../operations/removeColumns.js';
import { RenameColumn } from '../operations/renameColumn.js';
import { RenameView } from '../operations/renameView.js';
import { Select } from '../operations/select.js';
import { normalizeSelect } from '../plan/statements.js';
import { checkSourceScheme, requireNonEmpty, resolveSource } from '../storage/location.js';
import { checkStoredConfig } from '../storage/config.js';
import { isRemoteObject } from '../storage/remote.js';
import { requireWritable, storeFor } from '../storage/store.js';
import { BundleBase } from './base.js';
import { executeStatements, type StatementResult } from './execute.js';
import { Chain, forwardCalls } from './chain.js';
import { fromStaged, initializeBundle, toStaged, writeCommit, type RecordedChange, type StagedChange } from './commit.js';
import { inspectBlock, type AttachOptions } from './inspect.js';
import { checkSaveAs, storeDirOf } from './stored.js';
import { verifySources } from './sources.js';
import { allCommits, bindRestores, chainSettings, committedOperations, newBundle, requireVersion, type LoadedBundle } from './load.js';
import type { Change, ProgressListener, Status } from './types.js';

export type { AttachOptions };

/** Options of a row edit: `always` also applies it to sources attached later. */
export interface EditOptions {
  always?: boolean;
}

/** A bundle being built: operations are recorded (never executed) until `commit()` writes them. */
export class BundleBuilder extends BundleBase {
  private changes: RecordedChange[] = [];
  private validating: Operation[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  constructor(loaded: LoadedBundle, changes: RecordedChange[] = []) {
    super(loaded);
    this.changes = changes;
  }


  protected effectiveOperations(): Operation[] {
    return [...committedOperations(this.loaded), ...this.changes.flatMap((c) => c.operations)];
  }

  protected override async settled(): Promise<void> {
    await this.queue.catch(() => undefined);
  }

  /** Runs `step` after every earlier call, as one link of a chain. */
  private enqueue(step: () => Promise<void>): BuilderChain {
    const run = this.queue.catch(() => undefined).then(() => {
      this.assertOpen();
      return step();
    });
    this.queue = run;
    return new BuilderChain(run.then(() => this));
  }

  /**
   * Records one change after validating it: the operations must apply and the resulting pipeline
   * must compile and bind in DuckDB. A failure records nothing.
   */
  /** Records a change described by its main operation's `describe()` (see describeChange). */
  private record(build: () => Operation[] | Promise<Operation[]>, extra: Partial<RecordedChange> = {}): BuilderChain {
    return this.recordAs(undefined, build, extra);
  }

  /** Records a change under `description` (when the operations cannot say it in the user's words). */
  /** `skipEmpty`: a change of no operations (names normalized already) is not recorded. */
  private recordAs(description: string | undefined, build: () => Operation[] | Promise<Operation[]>, extra: Partial<RecordedChange> = {}, skipEmpty = false): BuilderChain {
    return this.enqueue(async () => {
      const operations = await build();
      if (skipEmpty && operations.length === 0) return;
      description ??= describeChange(operations);
      // each operation is checked against the pipeline as the change's operations before it leave it
      for (const [i, op] of operations.entries()) await op.check?.(this.checkContext(operations.slice(0, i)));
      this.validating = operations;
      try {
        await this.validate([...this.effectiveOperations(), ...operations], description);
      } finally {
        this.validating = [];
      }
      this.changes.push({ ...extra, id: randomUUID(), description, operations });
    });
  }

  /** The change being validated reads its sources too (changes are recorded one at a time). */
  protected override accessOperations(): Operation[] {
    return [...this.effectiveOperations(), ...this.validating];
  }

  private async validate(operations: Operation[], description: string): Promise<void> {
    await this.database(); // refuses untrusted sources, and fetches remote ones, before compiling
    // a referenced file that vanished is named as such, not as the path outside the sandbox DuckDB
    // then reports ('…/b.csv/**/*.csv': it tries a missing file as a directory)
    await verifySources(operations, true);
    const stmt = await this.compileWithLayouts(this.plan(operations), description);
    if (!stmt) return;
    const { parameterCount } = await this.describe(stmt, description).catch((err) => {
      // every column removed: nothing left to bind, which is allowed (the schema is then empty)
      if (isNoColumnsError(err)) return { parameterCount: stmt.params.length };
      throw err;
    });
    if (parameterCount !== stmt.params.length) {
      throw invalidArgument(`The pipeline uses ${parameterCount} parameter(s) but ${stmt.params.length} were given`);
    }
  }

  private async columnNames(): Promise<string[]> {
    return (await this.schemaOf(await this.currentStatement())).fields.map((f) => f.name);
  }

  /** What an operation's check sees: the pipeline with `before` (operations of the same change) applied. */
  private checkContext(before: readonly Operation[]): CheckContext {
    const operations = () => [...this.effectiveOperations(), ...before];
    const columns = async () => {
      if (before.length === 0) return this.columnNames();
      return (await this.schemaOf(await this.compileWithLayouts(this.plan(operations())))).fields.map((f) => f.name);
    };
    return { columns, hasSources: () => this.plan(operations()).baseBlocks().length > 0, url: this.url };
  }

  attach(url: string, options: AttachOptions = {}): BuilderChain {
    return this.record(async () => {
      this.refuseOnView(AttachBlock, 'attach');
      const state = this.plan();
      let packId = state.basePackId;
      if (options.join !== undefined) {
        packId = state.joins.get(options.join);
        if (packId === undefined) {
          throw notFound(`Join '${options.join}' not found; joins: ${[...state.joins.keys()].join(', ') || '(none)'}`);
        }
      }
      const ops: Operation[] = [];
      if (packId === undefined) {
        packId = shortId();
        ops.push(new DefinePack(packId));
      }
      ops.push(await this.attachBlock(url, packId, options));
      return ops;
    });
  }

  /**
   * Inspects a source and records it into `packId` (the eager step of attach: counts, stamps,
   * schema). `replacing` is the block it takes the place of, which may be the same file.
   */
  private attachBlock(url: string, packId: string, options: AttachOptions, replacing?: AttachBlock): Promise<AttachBlock> {
    detectFormat(requireNonEmpty(url, 'Attach URL'), options.format); // bad input first
    checkSourceScheme(url);
    checkSaveAs(options.saveAs);
    const location = resolveSource(url, this.loaded.store.dir);
    const same = this.blocks().find((op) => op !== replacing && !isFunctionSource(op.source) && op.sourceLocation === location);
    // the same file twice doubles its rows, which is never what attaching it again meant
    if (same) throw invalidArgument(`'${url}' is already attached (${same.source}); attaching it again would double its rows`);
    const { store } = this.loaded;
    const target = { baseDir: store.dir, storeDir: storeDirOf(store), baseUrl: isRemoteObject(store.url) ? store.url : undefined };
    return inspectBlock(url, shortId(), packId, options, target, (files) => this.database(files), chainSettings(this.loaded, this.effectiveOperations()));
  }

  /** Every block attached now (detached and replaced ones left out), as recorded. */
  private blocks(): AttachBlock[] {
    return attachedBlocks(this.effectiveOperations());
  }

  /** The block named by its source as attached, by its id, or by its file; NOT_FOUND listing them otherwise. */
  private requireBlock(source: string): AttachBlock {
    requireNonEmpty(source, 'Source');
    const blocks = this.blocks();
    const location = resolveSource(source, this.loaded.store.dir);
    // the same file named another way (absolute, or relative to the bundle) is the same source
    const found = blocks.find((b) => b.source === source) ?? blocks.find((b) => b.fields.id === source) ?? blocks.find((b) => !isFunctionSource(b.source) && b.sourceLocation === location);
    if (found) return found;
    const attached = blocks.map((b) => `${b.source} (block ${b.fields.id})`).join(', ');
    throw notFound(`No source '${source}' is attached to ${this.url}; attached: ${attached || 'none'}`);
  }

  /** Removes a block, named by its source exactly as attached or by its block id. */
  detach(source: string): BuilderChain {
    return this.record(() => {
      this.refuseOnView(DetachBlock, 'detach');
      const block = this.requireBlock(source);
      const state = this.plan();
      const join = [...state.joins].find(([, packId]) => packId === block.fields.packId)?.[0];
      // a join reads its pack: with no source left it would have nothing to join
      if (join !== undefined && state.packs.get(block.fields.packId)?.length === 1) {
        throw invalidArgument(`Cannot detach '${block.source}': it is the only source of join '${join}'; replace it instead`);
      }
      return [new DetachBlock(block.fields.id, block.source)];
    });
  }

  /**
   * Swaps a block (named as for detach) for the source `url`, in its place and in one change: `url`
   * is attached as attach() would (same options, same inspection).
   */
  replace(source: string, url: string, options: AttachOptions = {}): BuilderChain {
    return this.record(async () => {
      this.refuseOnView(ReplaceBlock, 'replace');
      const old = this.requireBlock(source);
      const block = await this.attachBlock(url, old.fields.packId, { ...options, join: undefined }, old);
      return [new ReplaceBlock(old.fields.id, block, old.source)];
    });
  }

  /**
   * Makes the pipeline of an earlier committed version (12 hex or commit number) the current one,
   * as a new change to commit: the history keeps every commit in between.
   */
  restore(version: string | number): BuilderChain {
    return this.record(() => {
      this.refuseOnView(Restore, 'restore');
      if (typeof version !== 'number' && typeof version !== 'string') throw invalidArgument('Version must be a 12-hex version or a commit number');
      const restored = requireVersion(this.loaded, typeof version === 'string' ? version.trim() : version);
      const target = allCommits(restored).at(-1)!;
      return [new Restore(target.version, target.number).bind(committedOperations(restored))];
    });
  }

  /**
   * Joins another source: `on` is SQL over `$base` (or `bundle`, the rows so far) and `name` (the
   * joined rows). The joined columns follow the bundle's; a clashing one becomes `<column>_1`.
   */
  join(name: string, url: string, on: string, how: string = 'inner'): BuilderChain {
    return this.record(async () => {
      this.refuseOnView(Join, 'join');
      requireNonEmpty(name, 'Join name');
      requireNonEmpty(on, 'Join condition');
      const joinType = parseJoinType(how);
      const state = this.plan();
      if (state.basePackId === undefined) throw invalidArgument(`Cannot join '${name}': attach a source to the bundle first`);
      if (state.joins.has(name)) throw invalidArgument(`Join '${name}' already exists`);
      const packId = shortId();
      return [new DefinePack(packId), await this.attachBlock(url, packId, {}), new Join(name, packId, joinType, on)];
    });
  }

  /**
   * Defines the programmatic source `function://name`: `fn(page, schema)` is called with pages
   * 0, 1, 2… in sequence while a read needs rows, and returns rows, a RecordBatch, or null when
   * done. The signature is recorded; the implementation lives in this process (defining a name
   * again replaces it everywhere).
   */
  defineFunction(definition: FunctionDefinition): BuilderChain {
    const name = definition?.name;
    return this.record(() => {
      requireNonEmpty(name, 'Function name');
      if (typeof definition.fn !== 'function') throw invalidArgument(`Function '${name}' needs an fn(page, schema)`);
      outputColumns(definition.output, name);
      defineSourceFunction(definition);
      return [new DefineFunction({ name, output: { ...definition.output }, version: definition.version })];
    });
  }

  /**
   * Indexes `column`: builds an index file now (one of the two eager steps, docs/architecture.md) mapping values to the byte ranges of
   * records in every CSV / JSON block, so equality and IN filters read only candidate records.
   */
  createIndex(column: string, options: { onProgress?: ProgressListener } = {}): BuilderChain {
    return this.record(async () => {
      requireNonEmpty(column, 'Column name');
      await requireColumns({ columns: () => this.columnNames(), hasSources: () => true, url: this.url }, [column], `index column '${column}'`);
      if (this.indexOn(column)) throw invalidArgument(`Index on '${column}' already exists`);
      const id = shortId();
      const built = await this.buildIndexFor(id, column, this.attachedBlocks(), options.onProgress);
      return [new CreateIndex(column, id), ...(built ? [built] : [])];
    });
  }

  dropIndex(column: string): BuilderChain {
    return this.record(() => [new DropIndex(this.requireIndex(column), column)]);
  }

  /** Rebuilds `column`'s index over every block, replacing its files. */
  rebuildIndex(column: string): BuilderChain {
    return this.record(async () => {
      const id = this.requireIndex(column);
      // an index is labelled with each source's recorded version: a changed source is refused, as a read refuses it
      await verifySources(this.effectiveOperations());
      const built = await this.buildIndexFor(id, column, this.attachedBlocks());
      return [new RebuildIndex(id, column), ...(built ? [built] : [])];
    });
  }

  /** Indexes the blocks attached (or changed) since each index was built. */
  reindex(): BuilderChain {
    return this.recordAs('Reindex', async () => {
      await verifySources(this.effectiveOperations());
      const ops: Operation[] = [];
      for (const { id, column, blocks } of unindexedBlocks(this.plan(), this.attachedBlocks())) {
        const built = await this.buildIndexFor(id, column, blocks);
        if (built) ops.push(built);
      }
      return ops;
    });
  }

  private indexOn(column: string): string | undefined {
    return indexOn(this.plan(), column);
  }

  private requireIndex(column: string): string {
    const id = this.indexOn(column);
    if (!id) throw notFound(`No index on '${column}'`);
    return id;
  }

  /** The blocks of the base pack, as recorded. */
  private attachedBlocks(): AttachBlock[] {
    const base = this.plan().basePackId;
    return this.blocks().filter((op) => op.fields.packId === base);
  }

  private async buildIndexFor(id: string, column: string, blocks: AttachBlock[], onProgress?: ProgressListener) {
    const dir = storeDirOf(this.loaded.store);
    if (dir === undefined) throw invalidArgument(`Cannot build an index in ${this.url}: it has nowhere to keep index files`);
    return buildIndexFiles(await this.connection(), dir, id, column, blocks, onProgress);
  }

  /** Refuses, on a view, an operation whose class says views may not record it (before any work). */
  private refuseOnView(operation: { readonly allowedOnView?: boolean }, action: string): void {
    if (this.loaded.isView && operation.allowedOnView === false) throw invalidArgument(`${action} is not allowed on a view (${this.url})`);
  }

  filter(where: string, params?: ParamValue[]): BuilderChain {
    return this.record(() => {
      requireNonEmpty(where, 'Filter condition');
      return [new Filter(where, validateParams(params, where))];
    });
  }

  /**
   * Drops the rows matching `where` (`$n` values in `params`) from the data attached so far; with
   * `always`, also from every source attached later. Recorded, never written: the files stay.
   */
  delete(where: string, params?: ParamValue[], options: EditOptions = {}): BuilderChain {
    return this.record(() => {
      requireNonEmpty(where, 'Delete condition');
      const values = validateParams(params, where);
      return [options?.always ? new AlwaysDelete(where, values) : new Delete(where, values)];
    });
  }

  /**
   * Sets columns (`set`: column → SQL expression, e.g. `{ status: "'closed'" }`) in the rows
   * matching `where` (every row without it) of the data attached so far; with `always`, also of
   * every source attached later. `$n` values in `params` serve `set` and `where` alike. Each column
   * keeps its type: the expression is cast to it.
   */
  update(set: Record<string, string>, where?: string, params?: ParamValue[], options: EditOptions = {}): BuilderChain {
    return this.record(() => {
      const assignments = assignmentsOf(set);
      if (where !== undefined) requireNonEmpty(where, 'Update condition');
      const values = validateParams(params, where ?? formatSetClause(assignments));
      return [options?.always ? new AlwaysUpdate(assignments, where, values) : new UpdateData(assignments, where, values)];
    });
  }

  /** Appends the column `name` computed by a SQL `expression` over each row. */
  addColumn(name: string, expression: string): BuilderChain {
    return this.record(() => [new AddColumn(requireNonEmpty(name, 'Column name'), requireNonEmpty(expression, 'Column expression'))]);
  }

  /**
   * Changes a column's type to the DuckDB type `type`. A value that cannot be converted fails the
   * read (SQL_ERROR naming the column); with `lenient`, it becomes NULL instead. `clean`: a regular
   * expression whose matches are removed from the value's text before the cast.
   */
  castColumn(name: string, type: string, options: { lenient?: boolean; clean?: string } = {}): BuilderChain {
    return this.record(() => {
      if (options?.clean !== undefined && typeof options.clean !== 'string') throw invalidArgument('The clean pattern of a cast must be a string');
      return [new CastColumn(requireNonEmpty(name, 'Column name'), requireNonEmpty(type, 'Type'), options?.lenient === true, options?.clean)];
    });
  }

  /**
   * Renames every column to lower snake case (README, "Normalized column names"): one change of
   * renameColumn operations, decided now from the current columns.
   */
  normalizeColumnNames(): BuilderChain {
    return this.recordAs('Normalize column names', async () => {
      requireSources(this.checkContext([]), 'normalize the column names of');
      return normalizingRenames(await this.columnNames());
    }, {}, true);
  }

  removeColumn(name: string): BuilderChain {
    return this.removeColumns([name]);
  }

  removeColumns(names: string[]): BuilderChain {
    const list = Array.isArray(names) ? names : [];
    return this.record(() => {
      list.forEach((n) => requireNonEmpty(n, 'Column name'));
      return [new RemoveColumns(list)];
    });
  }

  renameColumn(from: string, to: string): BuilderChain {
    return this.record(() => {
      requireNonEmpty(from, 'Column name');
      requireNonEmpty(to, 'New column name');
      return [new RenameColumn(from, to)];
    });
  }

  setName(name: string): BuilderChain {
    return this.record(() => [new SetName(requireNonEmpty(name, 'Name'))]);
  }

  setDescription(description: string): BuilderChain {
    return this.record(() => {
      if (typeof description !== 'string') throw invalidArgument('Description must be a string');
      return [new SetDescription(description)];
    });
  }

  setConfig(key: string, value: string, urlPrefix?: string): BuilderChain {
    return this.record(() => {
      requireNonEmpty(key, 'Config key');
      if (typeof value !== 'string') throw invalidArgument(`Config value for '${key}' must be a string`);
      checkStoredConfig(key, value);
      return [new SetConfig(key, value, urlPrefix)];
    });
  }

  /**
   * Stores `builder` (made from this bundle by `select()` or further operations) as a named view:
   * `view_<id>/`, a bundle extending this one, written at the next commit.
   */
  createView(name: string, builder: BundleBuilder): BuilderChain {
    const viewId = shortId();
    const extra: Partial<RecordedChange> = {};
    return this.record(async () => {
      this.refuseOnView(CreateView, 'createView');
      requireNonEmpty(name, 'View name');
      this.requireNewViewName(name);
      const own = builder instanceof BundleBuilder ? await builder.changesBeyond(this) : undefined;
      if (!own) throw invalidArgument(`createView('${name}') needs a builder made from this bundle, e.g. by select()`);
      extra.view = { viewId, changes: own };
      return [new CreateView(name, viewId)];
    }, extra);
  }

  renameView(from: string, to: string): BuilderChain {
    return this.recordAs(`Rename view ${from} to ${to}`, () => {
      this.refuseOnView(RenameView, 'renameView');
      requireNonEmpty(to, 'View name');
      const id = this.viewId(from);
      this.requireNewViewName(to);
      return [new RenameView(id, to)];
    });
  }

  dropView(name: string): BuilderChain {
    return this.recordAs(`Drop view ${name}`, () => {
      this.refuseOnView(DropView, 'dropView');
      return [new DropView(this.viewId(name))];
    });
  }

  private requireNewViewName(name: string): void {
    if ([...this.plan().views.values()].includes(name)) throw invalidArgument(`View '${name}' already exists`);
  }

  /** This builder's changes on top of `base`'s, when it was made from `base` (same commit, same changes). */
  private async changesBeyond(base: BundleBuilder): Promise<RecordedChange[] | undefined> {
    await this.settled();
    if (this === base || this.loaded !== base.loaded) return undefined;
    const prefix = base.changes;
    if (prefix.some((change, i) => this.changes[i] !== change)) return undefined;
    return this.changes.slice(prefix.length);
  }

  async view(nameOrId: string): Promise<Bundle> {
    return new Bundle(await this.loadView(nameOrId));
  }

  /** A new, independent builder whose rows are the result of `sql` over the table `bundle`. */
  select(sql: string, params?: ParamValue[]): BuilderChain {
    return new BuilderChain(
      this.settled().then(() => new BundleBuilder(this.loaded, [...this.changes]).recordSelect(sql, params)),
    );
  }

  /**
   * Runs statements of the statement language (README, "Statements"), separated by ";", in order:
   * writes are recorded on this builder (COMMIT commits them), reads give their results.
   */
  execute(sql: string): Promise<StatementResult[]> {
    return this.settled().then(() => executeStatements(sql, this, this));
  }

  private recordSelect(sql: string, params?: ParamValue[]): BuilderChain {
    return this.record(() => {
      requireNonEmpty(sql, 'Select SQL');
      return [new Select(normalizeSelect(sql), validateParams(params, sql))];
    });
  }

  /** A builder on top of this bundle's committed state: same bundle without `dataDir`, else a new one. */
  extend(dataDir?: string): BuilderChain {
    return new BuilderChain(this.settled().then(() => extendBundle(this.loaded, dataDir)));
  }

  status(): Status {
    const changes: Change[] = this.changes.map((c) => ({ id: c.id, description: c.description, operations: [...c.operations] }));
    const totalOperations = changes.reduce((n, c) => n + c.operations.length, 0);
    return { changes, totalOperations, isEmpty: () => changes.length === 0 };
  }

  /** The changes before the one that recorded the select `sql` (all of them when none did). */
  protected override uncommittedBefore(sql: string): Change[] {
    const at = this.changes.findIndex((c) => c.operations.some((op) => op instanceof Select && op.sql === sql));
    return this.status().changes.slice(0, at < 0 ? undefined : at);
  }

  undo(): BuilderChain {
    return this.enqueue(async () => {
      this.changes.pop();
    });
  }

  reset(): BuilderChain {
    return this.enqueue(async () => {
      this.changes = [];
    });
  }

  /** @internal The uncommitted changes in manifest form. */
  async stagedChanges(): Promise<StagedChange[]> {
    await this.settled();
    return this.changes.map(toStaged);
  }

  /** @internal Restores changes saved by `stagedChanges()` (they were validated when recorded). */
  restoreChanges(staged: readonly StagedChange[], source: string): void {
    this.changes = staged.map((c) => fromStaged(c, { baseDir: this.loaded.store.dir }, source));
    bindRestores(this.loaded, this.changes.flatMap((c) => c.operations));
  }

  /** @internal Writes the init manifest now, so an empty bundle can be opened before its first commit. */
  async initialize(): Promise<void> {
    await this.settled();
    await initializeBundle(this.loaded);
  }

  /** Writes the uncommitted changes as the next commit, atomically. */
  async commit(message: string): Promise<void> {
    if (typeof message !== 'string' || message.trim() === '') throw invalidArgument('Commit message must be a non-empty string: say what changed');
    await this.enqueue(async () => {
      this.loaded = await writeCommit(this.loaded, message, this.changes);
      this.changes = [];
    });
  }
}

/**
 * A change's description: its last main operation's `describe()` (supporting operations — a pack
 * for a join's source, an index's files — are left out).
 */
function describeChange(operations: readonly Operation[]): string {
  const main = operations.filter((op) => !(op instanceof DefinePack || op instanceof IndexBlocks));
  return (main.at(-1) ?? operations.at(-1))?.describe() ?? 'No change';
}

/** `update`'s `set` as assignments, refusing anything but column → non-empty SQL text. */
function assignmentsOf(set: unknown): [string, string][] {
  if (typeof set !== 'object' || set === null || Array.isArray(set)) throw invalidArgument('Update needs a mapping of column → SQL expression, e.g. { status: "\'closed\'" }');
  const entries = Object.entries(set);
  if (entries.length === 0) throw invalidArgument('Update needs at least one column to set');
  for (const [column, expression] of entries) {
    requireNonEmpty(column, 'Column name');
    if (typeof expression !== 'string' || expression.trim() === '') throw invalidArgument(`The value for column '${column}' must be a non-empty SQL expression`);
  }
  return entries as [string, string][];
}

function shortId(): string {
  return randomUUID().replaceAll('-', '').slice(0, 8);
}

/** `extend()` of a loaded bundle: the same bundle when `dataDir` is absent or its own directory. */
function extendBundle(loaded: LoadedBundle, dataDir?: string): BundleBuilder {
  if (loaded.archive) {
    throw new BundlebaseError(
      'READ_ONLY',
      `Bundle ${loaded.archive.file} is a packed archive, opened read-only: change the bundle it was packed from and export it again`,
    );
  }
  if (dataDir === undefined) {
    requireWritable(loaded.store);
    return new BundleBuilder(loaded);
  }
  const store = requireWritable(storeFor(requireNonEmpty(dataDir, 'Extend directory'), chainSettings(loaded)));
  if (store.url === loaded.url) return new BundleBuilder(loaded);
  return new BundleBuilder(newBundle(store, loaded.id, loaded));
}

/** A committed bundle opened for reading. Change it through `extend()`. */
export class Bundle extends BundleBase {
  constructor(loaded: LoadedBundle) {
    super(loaded);
  }

  protected effectiveOperations(): Operation[] {
    return committedOperations(this.loaded);
  }


  /** A builder on top of this bundle: the same bundle without `dataDir`, else a new one extending it. */
  extend(dataDir?: string): BuilderChain {
    return new BuilderChain(Promise.resolve().then(() => extendBundle(this.loaded, dataDir)));
  }

  /** A new builder whose rows are the result of `sql` over the table `bundle`. */
  select(sql: string, params?: ParamValue[]): BuilderChain {
    return new BundleBuilder(this.loaded).select(sql, params);
  }

  /** Runs read statements of the statement language (SELECT, SHOW …, EXPLAIN, DESCRIBE DATA); a write is READ_ONLY. */
  execute(sql: string): Promise<StatementResult[]> {
    return executeStatements(sql, this);
  }

  async view(nameOrId: string): Promise<Bundle> {
    return new Bundle(await this.loadView(nameOrId));
  }
}

/**
 * What a builder call returns: awaitable and chainable (see Chain). Its methods are the builder's,
 * derived below — a Bundle and its builders open each other, so they share this module.
 */
export class BuilderChain extends Chain<BundleBuilder> {}

/** The reads a chain offers: they run once every call before them has been recorded. */
const READS = ['schema', 'numRows', 'explain', 'toArrow', 'toObjects', 'toColumns', 'export', 'diff', 'commit'] as const satisfies readonly (keyof BundleBuilder)[];
type Reading = (typeof READS)[number];

type Method<K extends keyof BundleBuilder> = BundleBuilder[K] extends (...args: infer A) => infer R ? (...args: A) => R : never;

/** Every recording method, forwarded in order; every read, after the calls before it. */
export interface BuilderChain extends ChainedRecording, ChainedReads {}
type ChainedRecording = { [K in Recording]: Method<K> };
type ChainedReads = { [K in Reading]: Method<K> };

/** The builder's methods that record a change, each once (checked against the builder below). */
const RECORDING = {
  attach: true,
  detach: true,
  replace: true,
  restore: true,
  join: true,
  defineFunction: true,
  createIndex: true,
  dropIndex: true,
  rebuildIndex: true,
  reindex: true,
  filter: true,
  delete: true,
  update: true,
  addColumn: true,
  castColumn: true,
  normalizeColumnNames: true,
  removeColumn: true,
  removeColumns: true,
  renameColumn: true,
  setName: true,
  setDescription: true,
  setConfig: true,
  createView: true,
  renameView: true,
  dropView: true,
  select: true,
  extend: true,
  undo: true,
  reset: true,
} as const satisfies { readonly [K in keyof BundleBuilder]?: true };
type Recording = keyof typeof RECORDING;

/** Builder methods returning a chain that the chain does not forward: must be none. */
type Unforwarded = Exclude<{ [K in keyof BundleBuilder]: BundleBuilder[K] extends (...args: never[]) => BuilderChain ? K : never }[keyof BundleBuilder], Recording>;
const everyRecordingMethodForwarded: [Unforwarded] extends [never] ? true : Unforwarded = true;
void everyRecordingMethodForwarded;

forwardCalls(BuilderChain, Object.keys(RECORDING), READS, (done) => new BuilderChain(done));
