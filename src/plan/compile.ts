import type { Statement } from '../engine/engine.js';
import type { ParamValue } from '../engine/params.js';
import { unionSql } from './sources.js';
import { renumberParams } from './sql.js';
import type { PlanState } from './state.js';

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
  state.steps.forEach((step, i) => {
    const name = `__step${i + 1}`;
    ctes.push(`${name} AS (${renumberParams(step.sql(prev), params.length)})`);
    params.push(...step.params);
    prev = name;
  });
  return { sql: `WITH ${ctes.join(',\n')}\nSELECT * FROM ${prev}`, params };
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
