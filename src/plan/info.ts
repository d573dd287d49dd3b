import type { Statement } from '../engine/engine.js';
import { mapCode, quoteIdent, quoteLiteral } from './sql.js';

/**
 * The `bundle_info` tables: a bundle's metadata (history, status, blocks, indexes, views, config,
 * columns) as SQL tables. They are small, so each is a VALUES statement bound as a CTE (library
 * selects) or a table in the server's database. Column names follow upstream bundlebase's.
 */

/** Each table's columns and DuckDB types, in order. */
const INFO_TABLES = {
  history: [['id', 'INTEGER'], ['version', 'VARCHAR'], ['url', 'VARCHAR'], ['author', 'VARCHAR'], ['message', 'VARCHAR'], ['timestamp', 'VARCHAR'], ['change_count', 'INTEGER']],
  status: [['id', 'INTEGER'], ['change_id', 'VARCHAR'], ['description', 'VARCHAR'], ['operation_count', 'INTEGER']],
  blocks: [
    ['id', 'VARCHAR'], ['version', 'VARCHAR'], ['pack_id', 'VARCHAR'], ['pack_name', 'VARCHAR'], ['source_id', 'VARCHAR'],
    ['source_count', 'UBIGINT'], ['source_locations', 'VARCHAR[]'], ['source_versions', 'VARCHAR[]'], ['format', 'VARCHAR'], ['num_rows', 'BIGINT'],
  ],
  indexes: [['id', 'VARCHAR'], ['name', 'VARCHAR'], ['column', 'VARCHAR'], ['type', 'VARCHAR'], ['tokenizer', 'VARCHAR']],
  views: [['id', 'VARCHAR'], ['name', 'VARCHAR']],
  config: [['scope', 'VARCHAR'], ['key', 'VARCHAR'], ['value', 'VARCHAR'], ['source', 'VARCHAR'], ['active', 'BOOLEAN'], ['secure', 'BOOLEAN']],
  columns: [['Column', 'VARCHAR'], ['Type', 'VARCHAR'], ['Nullable', 'VARCHAR']],
} as const satisfies Record<string, readonly (readonly [string, string])[]>;

export type InfoTableName = keyof typeof INFO_TABLES;
export type InfoCell = string | number | boolean | null | readonly (string | null)[];

export const INFO_SCHEMA = 'bundle_info';
export const INFO_TABLE_NAMES = Object.keys(INFO_TABLES) as InfoTableName[];

export function isInfoTable(name: string): name is InfoTableName {
  return Object.hasOwn(INFO_TABLES, name);
}

/** The relation name a `bundle_info.x` reference becomes (one quoted identifier, see {@link rewriteInfoNames}). */
export function infoRelation(name: string): string {
  return `${INFO_SCHEMA}.${name}`;
}

const QUALIFIED = /\bbundle_info\s*\.\s*(\w+)/gi;

/**
 * `bundle_info.history` → `"bundle_info.history"`: the tables are bound as relations of that
 * name (a CTE cannot be schema-qualified). Only code is rewritten, never literals.
 */
export function rewriteInfoNames(sql: string): string {
  return mapCode(sql, (code) => code.replace(QUALIFIED, (_, name: string) => quoteIdent(infoRelation(name.toLowerCase()))));
}

/** The `bundle_info` tables `sql` names (in code), known or not, lower case. */
export function infoNamesIn(sql: string): string[] {
  const names = new Set<string>();
  mapCode(sql, (code) => {
    for (const m of code.matchAll(QUALIFIED)) names.add(m[1]!.toLowerCase());
    return code;
  });
  return [...names];
}

function literal(value: InfoCell, type: string): string {
  if (value === null) return 'NULL';
  if (Array.isArray(value)) return `[${value.map((v) => (v === null ? 'NULL' : quoteLiteral(v))).join(', ')}]::${type}`;
  if (typeof value === 'string') return quoteLiteral(value);
  return String(value);
}

/** One `bundle_info` table's rows as a statement, typed by its column list (also when empty). */
export function infoStatement(name: InfoTableName, rows: readonly (readonly InfoCell[])[]): Statement {
  const columns = INFO_TABLES[name];
  if (rows.length === 0) return { sql: `SELECT ${columns.map(([c, t]) => `CAST(NULL AS ${t}) AS ${quoteIdent(c)}`).join(', ')} LIMIT 0`, params: [] };
  const values = rows.map((row) => `(${columns.map(([, t], i) => literal(row[i] ?? null, t)).join(', ')})`);
  const aliases = columns.map((_, i) => `c${i}`);
  const items = columns.map(([c, t], i) => `CAST(${aliases[i]} AS ${t}) AS ${quoteIdent(c)}`);
  return { sql: `SELECT ${items.join(', ')} FROM (VALUES ${values.join(', ')}) AS t(${aliases.join(', ')})`, params: [] };
}

/** Creates a `bundle_info` table from its statement in a server's own database, once (a served bundle does not change). */
export function createInfoTable(name: InfoTableName, stmt: Statement): Statement {
  return { sql: `CREATE TABLE ${quoteIdent(infoRelation(name))} AS ${stmt.sql}`, params: stmt.params };
}
