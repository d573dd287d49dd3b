import * as arrow from 'apache-arrow';
import type { ColumnInfo } from '../engine/engine.js';
import { invalidArgument } from '../errors.js';
import { requireColumns } from '../operations/operation.js';
import type { ColumnProfile } from './types.js';

/** A column to profile: its description and whether mean and deviation apply. */
export interface ProfiledColumn {
  name: string;
  type: string;
  numeric: boolean;
}

/** The columns `names` asks for, in its order (all when absent, in the bundle's order); an unknown one is refused naming it. */
export async function profiledColumns(described: readonly ColumnInfo[], names: readonly string[] | undefined, url: string): Promise<ProfiledColumn[]> {
  const all = described.map((c) => c.name);
  if (names !== undefined) {
    if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) throw invalidArgument('describeData needs a list of column names');
    await requireColumns({ columns: async () => all, hasSources: () => true, url }, names, `describe column(s) ${names.join(', ')}`);
  }
  const chosen = names === undefined ? described : names.flatMap((n) => described.filter((c) => c.name === n));
  return chosen.map((c) => ({ name: c.name, type: c.type.name, numeric: isNumeric(c.type.arrow) }));
}

function isNumeric(type: arrow.DataType): boolean {
  return arrow.DataType.isInt(type) || arrow.DataType.isFloat(type) || arrow.DataType.isDecimal(type);
}

/** The profiles read from the one row of `profileStatement` (plan/statements.ts). */
export function profilesOf(columns: readonly ProfiledColumn[], row: Record<string, unknown>): ColumnProfile[] {
  const count = Number(row.n);
  const number = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return columns.map((c, i) => {
    const values = Number(row[`c${i}`]);
    return {
      name: c.name,
      type: c.type,
      count,
      nulls: count - values,
      distinct: Number(row[`d${i}`]),
      min: row[`lo${i}`] ?? null,
      max: row[`hi${i}`] ?? null,
      mean: c.numeric ? number(row[`mean${i}`]) : null,
      stddev: c.numeric ? number(row[`sd${i}`]) : null,
    };
  });
}
