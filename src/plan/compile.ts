import type { Statement } from '../engine/engine.js';
import type { ParamValue } from '../engine/params.js';
import { unionSql } from './sources.js';
import { renumberParams } from './sql.js';
import type { PlanState, Step } from './state.js';

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
    const parts = group.map((step) => {
      const sql = renumberParams(step.predicate ?? step.sql!(prev), params.length);
      params.push(...step.params);
      return sql;
    });
    const body = group[0]!.predicate === undefined ? parts[0]! : `SELECT * FROM ${prev} WHERE ${parts.map((p) => `(${p})`).join(' AND ')}`;
    ctes.push(`${name} AS (${body})`);
    prev = name;
  }
  return { sql: `WITH ${ctes.join(',\n')}\nSELECT * FROM ${prev}`, params };
}

/** Groups consecutive filter steps (one WHERE each group); every other step stands alone. */
function fuseFilters(steps: readonly Step[]): Step[][] {
  const groups: Step[][] = [];
  for (const step of steps) {
    const last = groups.at(-1);
    if (step.predicate !== undefined && last?.[0]?.predicate !== undefined) last.push(step);
    else groups.push([step]);
  }
  return groups;
}

/** Wraps a compiled statement, e.g. `SELECT count(*) FROM (…)`. */
export function wrap(stmt: Statement, prefix: string, suffix = ''): Statement {
  return { sql: `${prefix}(${stmt.sql})${suffix}`, params: stmt.params };
}

/** Row count known without a scan: every source's recorded count, when no step drops rows. */
export function recordedRowCount(state: PlanState): number | undefined {
  if (state.steps.some((s) => s.changesRows)) return undefined;
  let total = 0;
  for (const block of state.baseBlocks()) {
    if (block.numRows === undefined) return undefined;
    total += block.numRows;
  }
  return total;
}
