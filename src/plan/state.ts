import type { Statement } from '../engine/engine.js';
import type { ParamValue } from '../engine/params.js';

export type SourceFormat = 'parquet' | 'csv' | 'json' | 'function';

export interface CsvOptions {
  delimiter?: string;
  header?: boolean;
  quote?: string;
}

/** One attached source as the compiler needs it: where DuckDB reads it and how. */
export interface SourceBlock {
  id: string;
  packId: string;
  /** Absolute path or URL DuckDB reads (relative sources already resolved). */
  location: string;
  format: SourceFormat;
  csv?: CsvOptions;
  numRows?: number;
  /** Explicit column names and DuckDB types (set when an index lookup swaps in a slice of the file). */
  columns?: [name: string, type: string][];
  /** Source version recorded at attach (index files are only used for the version they indexed). */
  version?: string;
  /** read_csv options DuckDB sniffed for this file version (from its index): no sniffing at read time. */
  readOptions?: string;
  /** Set when an index lookup replaced the block by its candidate records. */
  narrowed?: boolean;
  /** Each column's Arrow type as attach recorded it (absent when the manifest has no schema). */
  columnTypes?: Readonly<Record<string, string>>;
}

/** Join kinds, as the manifest spells them. */
export type JoinType = 'Inner' | 'Left' | 'Right' | 'Full';

/**
 * What an operation contributes to the pipeline: data, never SQL text. The compiler (compile.ts)
 * turns each kind into SQL over the previous relation; a step's own `$n` parameters are numbered
 * from `$1` and renumbered there. Adding a kind without compiling it is a type error.
 */
export type Step =
  /** Keep the rows matching a predicate (consecutive filters compile into one WHERE). */
  | { readonly kind: 'filter'; readonly predicate: string; readonly params: readonly ParamValue[] }
  /** Drop columns, keeping the others in order. */
  | { readonly kind: 'excludeColumns'; readonly names: readonly string[] }
  /** Rename one column in place. */
  | { readonly kind: 'renameColumn'; readonly from: string; readonly to: string }
  /** Replace the rows with the result of SQL over the table `bundle` (the rows so far). */
  | { readonly kind: 'select'; readonly sql: string; readonly params: readonly ParamValue[] }
  /**
   * Join the rows so far (`bundle`) with the sources of a pack, read when compiling (attaches into
   * the join may come after it); `on` is SQL over `bundle` and `name`.
   */
  | { readonly kind: 'join'; readonly name: string; readonly packId: string; readonly joinType: JoinType; readonly on: string }
  /** Drop the rows matching a predicate (rows where it is NULL stay), of the blocks in `blocks` (all when absent). */
  | { readonly kind: 'deleteRows'; readonly predicate: string; readonly params: readonly ParamValue[]; readonly blocks?: readonly string[] }
  /**
   * Set columns to expressions (each keeps its type) in the rows matching `predicate` (all when
   * absent) of the blocks in `blocks` (all when absent); `set` and `predicate` share `params`.
   */
  | { readonly kind: 'updateRows'; readonly set: readonly (readonly [column: string, expression: string])[]; readonly predicate?: string; readonly params: readonly ParamValue[]; readonly blocks?: readonly string[] }
  /** Append a column computed by an expression. */
  | { readonly kind: 'addColumn'; readonly name: string; readonly expression: string }
  /** Change a column's type in place: CAST (a failing value fails the read), or TRY_CAST (NULL) when lenient. */
  | { readonly kind: 'castColumn'; readonly name: string; readonly type: string; readonly lenient: boolean; readonly clean?: string };

export type StepKind = Step['kind'];

/** Whether each kind of step may change the rows (else row counts can skip the scan). */
export const CHANGES_ROWS: { readonly [K in StepKind]: boolean } = {
  filter: true,
  excludeColumns: false,
  renameColumn: false,
  select: true,
  join: true,
  deleteRows: true,
  updateRows: false,
  addColumn: false,
  castColumn: false,
};

/** A step that edits the rows of some blocks only (a plain delete or update: those attached before it). */
export type ScopedStep = Extract<Step, { kind: 'deleteRows' | 'updateRows' }>;

/** What replaying the operations builds: sources, relational steps and metadata. */
export class PlanState {
  readonly packs = new Map<string, SourceBlock[]>();
  basePackId: string | undefined;
  readonly steps: Step[] = [];
  /** Join name → the pack holding its sources. */
  readonly joins = new Map<string, string>();
  /** View id → name. */
  readonly views = new Map<string, string>();
  /**
   * Views a select step may name, bound by the bundle before compiling (loading a view is I/O, so
   * replay cannot do it): view name → its compiled statement.
   */
  readonly namedViews = new Map<string, Statement>();
  /** Index id → indexed column and the files covering blocks (absolute paths). */
  readonly indexes = new Map<string, { column: string; files: { file: string; blocks: readonly { id: string; version: string }[] }[] }>();
  /** Function source name → its signature (name, output, version). */
  readonly functions = new Map<string, { name: string; output: Record<string, string>; version?: string }>();
  name: string | undefined;
  description: string | undefined;
  readonly config = new Map<string, { value: string; urlPrefix?: string }>();

  baseBlocks(): SourceBlock[] {
    return this.basePackId === undefined ? [] : (this.packs.get(this.basePackId) ?? []);
  }

  /** The pack and position of block `id`, when it is attached. */
  findBlock(id: string): { blocks: SourceBlock[]; at: number } | undefined {
    for (const blocks of this.packs.values()) {
      const at = blocks.findIndex((b) => b.id === id);
      if (at >= 0) return { blocks, at };
    }
    return undefined;
  }

  /** Forgets block `id` in every index, so its index entries are never used again (detach, replace). */
  forgetIndexed(id: string): void {
    for (const index of this.indexes.values()) {
      index.files = index.files.map((f) => ({ ...f, blocks: f.blocks.filter((b) => b.id !== id) }));
    }
  }

  /** The ids of the bundle's own blocks attached now: the scope of a plain delete or update recorded now. */
  baseBlockIds(): string[] {
    return this.baseBlocks().map((b) => b.id);
  }

  /**
   * Block `newId` takes block `oldId`'s place (replace): the edits scoped to the old block cover the
   * new one, as they cover the source it replaces.
   */
  inheritScope(oldId: string, newId: string): void {
    this.steps.forEach((step, i) => {
      if ((step.kind === 'deleteRows' || step.kind === 'updateRows') && step.blocks?.includes(oldId)) {
        this.steps[i] = { ...step, blocks: [...step.blocks, newId] };
      }
    });
  }

  /** Makes this state the one `other` describes (restore: an earlier version's pipeline becomes current). */
  resetTo(other: PlanState): void {
    const copy = <K, V>(to: Map<K, V>, from: ReadonlyMap<K, V>) => {
      to.clear();
      for (const [k, v] of from) to.set(k, v);
    };
    copy(this.packs, new Map([...other.packs].map(([id, blocks]) => [id, [...blocks]])));
    copy(this.joins, other.joins);
    copy(this.views, other.views);
    copy(this.namedViews, other.namedViews);
    copy(this.indexes, new Map([...other.indexes].map(([id, index]) => [id, { column: index.column, files: [...index.files] }])));
    copy(this.functions, other.functions);
    copy(this.config, other.config);
    this.steps.splice(0, this.steps.length, ...other.steps);
    this.basePackId = other.basePackId;
    this.name = other.name;
    this.description = other.description;
  }
}
