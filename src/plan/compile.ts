import type { Statement } from '../engine/engine.js';
import type { ParamValue } from '../engine/params.js';
import { rewriteInfoNames } from './info.js';
import { unionSql } from './sources.js';
import { mapCode, quoteIdent, quoteLiteral, renumberParams } from './sql.js';
import { CHANGES_ROWS, type PlanState, type ScopedStep, type Step } from './state.js';

/**
 * The hidden column telling which block a row comes from, present only while a plain delete or
 * update must tell blocks apart (it covers some of the blocks, not all). Each branch of the union
 * gives it a constant, so DuckDB folds the block test away and pushes the rest into each reader.
 */
const BLOCK_COLUMN = quoteIdent('__bundlebase_block');

/** What compiling a step needs besides the step: the plan, the parameter list, the block column. */
interface StepContext {
  readonly state: PlanState;
  /** Appends `values` to the statement's parameters; returns the renumbering of SQL that uses them as `$1…`. */
  bind(values: readonly ParamValue[]): (sql: string) => string;
  /** The base blocks' ids. */
  readonly blockIds: readonly string[];
  /** Whether the rows still carry BLOCK_COLUMN (a select's result no longer does). */
  tagged: boolean;
}

/**
 * Compiles the replayed pipeline into ONE statement, a CTE chain (sources, then one CTE per step),
 * so DuckDB sees the whole pipeline and pushes filters and projections into the readers.
 * Returns undefined for a bundle with no sources (empty schema, no rows).
 */
export function compile(state: PlanState): Statement | undefined {
  const blocks = state.baseBlocks();
  if (blocks.length === 0) return undefined;
  const blockIds = blocks.map((b) => b.id);
  const tagged = state.steps.some((s) => isScoped(s) && !coversAll(s, blockIds));
  const ctes = [`__base AS (${unionSql(blocks, tagged ? BLOCK_COLUMN : undefined)})`];
  const params: ParamValue[] = [];
  const bind = (values: readonly ParamValue[]) => {
    const offset = params.length;
    params.push(...values);
    return (sql: string) => renumberParams(sql, offset);
  };
  const context: StepContext = { state, bind, blockIds, tagged };
  let prev = '__base';
  for (const group of fuseFilters(state.steps)) {
    const name = `__step${ctes.length}`;
    ctes.push(`${name} AS (${groupSql(group, prev, context)})`);
    prev = name;
  }
  const result = context.tagged ? `SELECT * EXCLUDE (${BLOCK_COLUMN}) FROM ${prev}` : `SELECT * FROM ${prev}`;
  return { sql: `WITH ${ctes.join(',\n')}\n${result}`, params };
}

/** A run of filters (one WHERE), or one other step; its parameters are appended to the context's. */
function groupSql(group: Step | FilterStep[], prev: string, context: StepContext): string {
  const own = (sql: string, values: readonly ParamValue[]) => context.bind(values)(sql);
  if (Array.isArray(group)) return `SELECT * FROM ${prev} WHERE ${group.map((f) => `(${own(f.predicate, f.params)})`).join(' AND ')}`;
  return stepSql(group, prev, context, own);
}

/** The SQL of one step over the relation `prev`. Exhaustive: a new step kind fails to compile here. */
function stepSql(step: Step, prev: string, context: StepContext, own: (sql: string, params: readonly ParamValue[]) => string): string {
  const { state } = context;
  switch (step.kind) {
    case 'filter':
      return `SELECT * FROM ${prev} WHERE (${own(step.predicate, step.params)})`;
    case 'excludeColumns':
      return `SELECT * EXCLUDE (${step.names.map(quoteIdent).join(', ')}) FROM ${prev}`;
    case 'renameColumn':
      return `SELECT * RENAME (${quoteIdent(step.from)} AS ${quoteIdent(step.to)}) FROM ${prev}`;
    case 'select': {
      // the user's statement is a subquery of its own, with `bundle` bound to the previous step and
      // each view it names bound to the view's own statement; its rows no longer belong to one block
      // (and each bundle_info table it names, see info.ts)
      const sql = rewriteInfoNames(step.sql);
      const views = viewsNamedIn(sql, state).map(([name, view]) => `, ${quoteIdent(name)} AS (${own(view.sql, view.params)})`);
      const bundle = context.tagged ? `SELECT * EXCLUDE (${BLOCK_COLUMN}) FROM ${prev}` : `SELECT * FROM ${prev}`;
      context.tagged = false;
      return `WITH bundle AS (${bundle})${views.join('')} SELECT * FROM (${own(sql, step.params)}\n)`;
    }
    case 'join': {
      const on = mapCode(step.on, (code) => code.replace(/\$base\b/g, 'bundle'));
      const joined = unionSql(state.packs.get(step.packId) ?? []);
      return `SELECT * FROM ${prev} AS bundle ${step.joinType.toUpperCase()} JOIN (${joined}) AS ${quoteIdent(step.name)} ON (${on})`;
    }
    case 'deleteRows': {
      const scope = scopeCondition(step, context);
      if (scope === undefined) return `SELECT * FROM ${prev}`;
      // rows where the condition is NULL are kept, as SQL's DELETE keeps them
      return `SELECT * FROM ${prev} WHERE (${[scope, `(${own(step.predicate, step.params)})`].filter(Boolean).join(' AND ')}) IS NOT TRUE`;
    }
    case 'updateRows':
      return updateSql(step, prev, context);
    case 'addColumn':
      return `SELECT *, (${step.expression}) AS ${quoteIdent(step.name)} FROM ${prev}`;
    case 'castColumn': {
      const column = quoteIdent(step.name);
      // `clean`: every match of the pattern removed from the value's text before the cast
      const value = step.clean === undefined ? column : `regexp_replace(CAST(${column} AS VARCHAR), ${quoteLiteral(step.clean)}, '', 'g')`;
      return `SELECT * REPLACE (${step.lenient ? 'TRY_CAST' : 'CAST'}(${value} AS ${step.type}) AS ${column}) FROM ${prev}`;
    }
    default:
      return unreachable(step);
  }
}

/** Each updated column becomes its expression, cast to the column's own type, where the condition holds. */
function updateSql(step: Extract<Step, { kind: 'updateRows' }>, prev: string, context: StepContext): string {
  const scope = scopeCondition(step, context);
  if (scope === undefined) return `SELECT * FROM ${prev}`;
  const own = context.bind(step.params);
  const when = [scope, step.predicate === undefined ? '' : `(${own(step.predicate)})`].filter(Boolean).join(' AND ');
  const items = step.set.map(([name, expression]) => {
    const column = quoteIdent(name);
    const value = `cast_to_type((${own(expression)}), ${column})`;
    return `${when ? `CASE WHEN ${when} THEN ${value} ELSE ${column} END` : value} AS ${column}`;
  });
  return `SELECT * REPLACE (${items.join(', ')}) FROM ${prev}`;
}

function isScoped(step: Step): step is ScopedStep {
  return step.kind === 'deleteRows' || step.kind === 'updateRows';
}

function coversAll({ blocks }: ScopedStep, blockIds: readonly string[]): boolean {
  return blocks === undefined || blockIds.every((id) => blocks.includes(id));
}

/**
 * The condition restricting a plain delete or update to its blocks: '' when it applies to every
 * row, undefined when to none (its blocks were detached). After a select the rows no longer
 * belong to blocks: an edit recorded after one applies to all of them.
 */
function scopeCondition(step: ScopedStep, context: StepContext): string | undefined {
  const { blocks } = step;
  if (blocks === undefined || coversAll(step, context.blockIds) || !context.tagged) return '';
  const covered = context.blockIds.filter((id) => blocks.includes(id));
  if (covered.length === 0) return undefined;
  return `${BLOCK_COLUMN} IN (${covered.map(quoteLiteral).join(', ')})`;
}

/** The bound views whose name occurs in `sql` (a false match only binds a relation nobody reads). */
function viewsNamedIn(sql: string, state: PlanState): [string, Statement][] {
  const text = sql.toLowerCase();
  return [...state.namedViews].filter(([name]) => text.includes(name.toLowerCase()));
}

function unreachable(step: never): never {
  throw new Error(`Unknown step ${JSON.stringify(step)}`);
}

type FilterStep = Extract<Step, { kind: 'filter' }>;

/** Groups consecutive filter steps (one WHERE each run); every other step stands alone. */
function fuseFilters(steps: readonly Step[]): (Step | FilterStep[])[] {
  const groups: (Step | FilterStep[])[] = [];
  for (const step of steps) {
    const last = groups.at(-1);
    if (step.kind === 'filter' && Array.isArray(last)) last.push(step);
    else groups.push(step.kind === 'filter' ? [step] : step);
  }
  return groups;
}

/** True when a step reshapes columns without changing rows (removing every column must then be checked). */
export function reshapesColumns(state: PlanState): boolean {
  return state.steps.some((s) => !CHANGES_ROWS[s.kind]);
}

/** Wraps a compiled statement, e.g. `SELECT count(*) FROM (…)`. */
export function wrap(stmt: Statement, prefix: string, suffix = ''): Statement {
  return { sql: `${prefix}(${stmt.sql})${suffix}`, params: stmt.params };
}

/** Row count known without a scan: every source's recorded count, when no step drops rows. */
export function recordedRowCount(state: PlanState): number | undefined {
  if (state.steps.some((s) => CHANGES_ROWS[s.kind])) return undefined;
  let total = 0;
  for (const block of state.baseBlocks()) {
    if (block.numRows === undefined) return undefined;
    total += block.numRows;
  }
  return total;
}
