import type { Statement } from '../engine/engine.js';
import type { ParamValue } from '../engine/params.js';
import { unionSql } from './sources.js';
import { mapCode, quoteIdent, renumberParams } from './sql.js';
import { CHANGES_ROWS, type PlanState, type Step } from './state.js';

/**
 * Compiles the replayed pipeline into ONE statement, a CTE chain (sources, then one CTE per step),
 * so DuckDB sees the whole pipeline and pushes filters and projections into the readers.
 * Returns undefined for a bundle with no sources (empty schema, no rows).
 */
export function compile(state: PlanState): Statement | undefined {
  const blocks = state.baseBlocks();
  if (blocks.length === 0) return undefined;
  const ctes = [`__base AS (${unionSql(blocks)})`];
  const params: ParamValue[] = [];
  let prev = '__base';
  for (const group of fuseFilters(state.steps)) {
    const name = `__step${ctes.length}`;
    ctes.push(`${name} AS (${groupSql(group, prev, state, params)})`);
    prev = name;
  }
  return { sql: `WITH ${ctes.join(',\n')}\nSELECT * FROM ${prev}`, params };
}

/** A run of filters (one WHERE), or one other step; its parameters are appended to `params`. */
function groupSql(group: Step | FilterStep[], prev: string, state: PlanState, params: ParamValue[]): string {
  const own = (sql: string, values: readonly ParamValue[]) => {
    const renumbered = renumberParams(sql, params.length);
    params.push(...values);
    return renumbered;
  };
  if (Array.isArray(group)) return `SELECT * FROM ${prev} WHERE ${group.map((f) => `(${own(f.predicate, f.params)})`).join(' AND ')}`;
  return stepSql(group, prev, state, own);
}

/** The SQL of one step over the relation `prev`. Exhaustive: a new step kind fails to compile here. */
function stepSql(step: Step, prev: string, state: PlanState, own: (sql: string, params: readonly ParamValue[]) => string): string {
  switch (step.kind) {
    case 'filter':
      return `SELECT * FROM ${prev} WHERE (${own(step.predicate, step.params)})`;
    case 'excludeColumns':
      return `SELECT * EXCLUDE (${step.names.map(quoteIdent).join(', ')}) FROM ${prev}`;
    case 'renameColumn':
      return `SELECT * RENAME (${quoteIdent(step.from)} AS ${quoteIdent(step.to)}) FROM ${prev}`;
    case 'select': {
      // the user's statement is a subquery of its own, with `bundle` bound to the previous step and
      // each view it names bound to the view's own statement
      const views = viewsNamedIn(step.sql, state).map(([name, view]) => `, ${quoteIdent(name)} AS (${own(view.sql, view.params)})`);
      return `WITH bundle AS (SELECT * FROM ${prev})${views.join('')} SELECT * FROM (${own(step.sql, step.params)}\n)`;
    }
    case 'join': {
      const on = mapCode(step.on, (code) => code.replace(/\$base\b/g, 'bundle'));
      const joined = unionSql(state.packs.get(step.packId) ?? []);
      return `SELECT * FROM ${prev} AS bundle ${step.joinType.toUpperCase()} JOIN (${joined}) AS ${quoteIdent(step.name)} ON (${on})`;
    }
    default:
      return unreachable(step);
  }
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
