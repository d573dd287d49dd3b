import type { Statement } from '../engine/engine.js';
import { quoteIdent, quoteLiteral } from './sql.js';

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

/**
 * Literals, comments and quoted identifiers are matched first (and kept), so a reference is found
 * in code only; `bundle_info` and the table may each be quoted (`"bundle_info"."history"`, as BI
 * tools write names they listed).
 */
const REFERENCE = /'(?:[^']|'')*'|--[^\n]*|\/\*[\s\S]*?\*\/|(?:"bundle_info"|\bbundle_info\b)\s*\.\s*(?:"((?:[^"]|"")+)"|(\w+))|"(?:[^"]|"")*"/gi;

/** `sql` with each `bundle_info.x` reference replaced by `replace(x)` (x in lower case). */
function mapInfoReferences(sql: string, replace: (name: string, text: string) => string): string {
  return sql.replace(REFERENCE, (text: string, quoted: string | undefined, plain: string | undefined) => {
    const name = quoted?.replaceAll('""', '"') ?? plain;
    return name === undefined ? text : replace(name.toLowerCase(), text);
  });
}

/**
 * `bundle_info.history` → `"bundle_info.history"`: a library select binds the tables as relations
 * of that name (a CTE cannot be schema-qualified). Only code is rewritten, never literals.
 */
export function rewriteInfoNames(sql: string): string {
  return mapInfoReferences(sql, (name) => quoteIdent(infoRelation(name)));
}

/** The `bundle_info` tables `sql` names (in code), known or not, lower case. */
export function infoNamesIn(sql: string): string[] {
  const names = new Set<string>();
  mapInfoReferences(sql, (name, text) => {
    names.add(name);
    return text;
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

/** The schema `bundle_info` in a server's own database (its tables: {@link createInfoTable}). */
export const CREATE_INFO_SCHEMA: Statement = { sql: `CREATE SCHEMA ${quoteIdent(INFO_SCHEMA)}`, params: [] };

/**
 * Creates `bundle_info.<name>` from its statement in a server's own database, once (a served bundle
 * does not change): clients name it as they like, quoted or not, with no rewriting.
 */
export function createInfoTable(name: InfoTableName, stmt: Statement): Statement {
  return { sql: `CREATE TABLE ${quoteIdent(INFO_SCHEMA)}.${quoteIdent(name)} AS ${stmt.sql}`, params: stmt.params };
}
