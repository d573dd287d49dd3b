import * as arrow from 'apache-arrow';
import { BundlebaseError } from '../errors.js';
import { mapCode, quoteIdent, quoteLiteral } from '../plan/sql.js';
import { pgType } from './pgTypes.js';

/**
 * The PostgreSQL system catalogs real clients read (psql's `\d`, `\dt`, `\l`, JDBC and BI tools'
 * metadata queries), as small tables and macros in the server's own restricted database. DuckDB
 * has a `pg_catalog` of its own, but it lacks columns and functions these clients use and cannot
 * be extended; ours describes exactly the served relations. The client's text is rewritten so
 * `pg_catalog.x` names ours (see {@link rewriteForCatalog}); the guard then checks the result.
 */

/** A served relation as every catalog shows it. */
export interface ServedTable {
  name: string;
  /** `public` for the bundle and its views. */
  schemaName: string;
  kind: 'TABLE' | 'VIEW';
  schema: arrow.Schema;
  description?: string;
}

/** The database (catalog) name the catalogs report; clients may connect naming any. */
export const CATALOG_DATABASE = 'bundle';

/** What SHOW and pg_settings answer; the server announces the same at startup. */
export const SERVER_VERSION = '16.0 (bundlebase)';
const SETTINGS: [name: string, value: string][] = [
  ['server_version', SERVER_VERSION],
  ['server_version_num', '160000'],
  ['server_encoding', 'UTF8'],
  ['client_encoding', 'UTF8'],
  ['DateStyle', 'ISO, MDY'],
  ['IntervalStyle', 'postgres'],
  ['TimeZone', 'UTC'],
  ['integer_datetimes', 'on'],
  ['standard_conforming_strings', 'on'],
  ['search_path', '"$user", public'],
  ['default_transaction_read_only', 'on'],
  ['transaction_read_only', 'on'],
  ['transaction_isolation', 'read committed'],
  ['max_identifier_length', '63'],
  ['lc_collate', 'C'],
  ['lc_ctype', 'C'],
  ['is_superuser', 'off'],
  ['application_name', ''],
  ['extra_float_digits', '1'],
];

const PUBLIC = 2200;
const PG_CATALOG = 11;
/** Settings a client may SET (accepted and ignored): PostgreSQL's session settings drivers send. */
const SESSION_SETTINGS: ReadonlySet<string> = new Set([
  ...SETTINGS.map(([name]) => name.toLowerCase()),
  'statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout', 'bytea_output', 'names', 'time', 'session', 'session_authorization', 'role', 'transaction', 'characteristics',
]);

export function isSessionSetting(name: string): boolean {
  return SESSION_SETTINGS.has(name.toLowerCase());
}

const NAMESPACES: Record<string, number> = {
  pg_catalog: PG_CATALOG,
  public: PUBLIC,
  information_schema: 13000,
  bundle_info: 16300,
};
const OWNER = 10;
const OWNER_NAME = 'bundlebase';
const FIRST_RELATION_OID = 16384;

/** PostgreSQL types the served columns use: oid → [typname, format_type text, typlen, typcategory]. */
const TYPES: Record<number, [string, string, number, string]> = {
  16: ['bool', 'boolean', 1, 'B'],
  17: ['bytea', 'bytea', -1, 'U'],
  18: ['char', '"char"', 1, 'S'],
  19: ['name', 'name', 64, 'S'],
  20: ['int8', 'bigint', 8, 'N'],
  21: ['int2', 'smallint', 2, 'N'],
  23: ['int4', 'integer', 4, 'N'],
  25: ['text', 'text', -1, 'S'],
  26: ['oid', 'oid', 4, 'N'],
  700: ['float4', 'real', 4, 'N'],
  701: ['float8', 'double precision', 8, 'N'],
  1043: ['varchar', 'character varying', -1, 'S'],
  1082: ['date', 'date', 4, 'D'],
  1083: ['time', 'time without time zone', 8, 'D'],
  1114: ['timestamp', 'timestamp without time zone', 8, 'D'],
  1184: ['timestamptz', 'timestamp with time zone', 8, 'D'],
  1700: ['numeric', 'numeric', -1, 'N'],
};

type Cell = string | number | boolean | null | string[];
type Column = [name: string, type: string];

function literal(value: Cell): string {
  if (value === null) return 'NULL';
  if (Array.isArray(value)) return `[${value.map(quoteLiteral).join(', ')}]::VARCHAR[]`;
  if (typeof value === 'string') return quoteLiteral(value);
  return String(value);
}

/** CREATE TABLE with typed columns (also when empty), then its rows. */
function table(name: string, columns: Column[], rows: Cell[][] = []): string[] {
  const create = `CREATE TABLE ${quoteIdent(name)} (${columns.map(([c, t]) => `${quoteIdent(c)} ${t}`).join(', ')})`;
  if (rows.length === 0) return [create];
  return [create, `INSERT INTO ${quoteIdent(name)} VALUES ${rows.map((r) => `(${r.map(literal).join(', ')})`).join(', ')}`];
}

/** Columns of a catalog table: all of one type, e.g. `cols('INTEGER', 'oid', 'relnamespace')`. */
const cols = (type: string, ...names: string[]): Column[] => names.map((n) => [n, type]);

/** Catalog tables nobody fills: they exist so the clients' joins and sub-selects bind. */
const EMPTY_TABLES: Record<string, Column[]> = {
  pg_attrdef: [...cols('INTEGER', 'oid', 'adrelid', 'adnum'), ['adbin', 'VARCHAR']],
  pg_collation: [...cols('INTEGER', 'oid', 'collnamespace', 'collowner'), ...cols('VARCHAR', 'collname', 'collprovider', 'collcollate', 'collctype')],
  pg_index: [...cols('INTEGER', 'indexrelid', 'indrelid', 'indnatts', 'indnkeyatts'), ...cols('BOOLEAN', 'indisunique', 'indisprimary', 'indisexclusion', 'indimmediate', 'indisclustered', 'indisvalid', 'indcheckxmin', 'indisready', 'indislive', 'indisreplident', 'indnullsnotdistinct'), ...cols('VARCHAR', 'indkey', 'indcollation', 'indclass', 'indoption', 'indexprs', 'indpred')],
  pg_constraint: [...cols('INTEGER', 'oid', 'connamespace', 'conrelid', 'contypid', 'conindid', 'conparentid', 'confrelid'), ...cols('VARCHAR', 'conname', 'contype', 'confupdtype', 'confdeltype', 'confmatchtype', 'conbin'), ...cols('BOOLEAN', 'condeferrable', 'condeferred', 'convalidated', 'conislocal', 'connoinherit'), ['coninhcount', 'INTEGER'], ...cols('SMALLINT[]', 'conkey', 'confkey')],
  pg_inherits: [...cols('INTEGER', 'inhrelid', 'inhparent', 'inhseqno'), ['inhdetachpending', 'BOOLEAN']],
  pg_trigger: [...cols('INTEGER', 'oid', 'tgrelid', 'tgparentid', 'tgfoid'), ...cols('VARCHAR', 'tgname', 'tgenabled'), ['tgisinternal', 'BOOLEAN'], ['tgtype', 'SMALLINT']],
  pg_policy: [...cols('INTEGER', 'oid', 'polrelid'), ...cols('VARCHAR', 'polname', 'polcmd', 'polqual', 'polwithcheck'), ['polpermissive', 'BOOLEAN'], ['polroles', 'INTEGER[]']],
  pg_rewrite: [...cols('INTEGER', 'oid', 'ev_class'), ...cols('VARCHAR', 'rulename', 'ev_type', 'ev_enabled', 'ev_qual', 'ev_action'), ['is_instead', 'BOOLEAN']],
  pg_statistic_ext: [...cols('INTEGER', 'oid', 'stxrelid', 'stxnamespace', 'stxowner', 'stxstattarget'), ...cols('VARCHAR', 'stxname', 'stxkeys', 'stxexprs'), ['stxkind', 'VARCHAR[]']],
  pg_publication: [['oid', 'INTEGER'], ['pubname', 'VARCHAR'], ...cols('BOOLEAN', 'puballtables', 'pubinsert', 'pubupdate', 'pubdelete', 'pubtruncate', 'pubviaroot')],
  pg_publication_rel: [...cols('INTEGER', 'oid', 'prpubid', 'prrelid'), ['prqual', 'VARCHAR'], ['prattrs', 'SMALLINT[]']],
  pg_publication_namespace: cols('INTEGER', 'oid', 'pnpubid', 'pnnspid'),
  pg_foreign_table: [...cols('INTEGER', 'ftrelid', 'ftserver'), ['ftoptions', 'VARCHAR[]']],
  pg_partitioned_table: [['partrelid', 'INTEGER'], ['partstrat', 'VARCHAR']],
  pg_proc: [...cols('INTEGER', 'oid', 'pronamespace', 'proowner', 'prorettype'), ...cols('VARCHAR', 'proname', 'prokind', 'proargtypes')],
  pg_extension: [...cols('INTEGER', 'oid', 'extowner', 'extnamespace'), ...cols('VARCHAR', 'extname', 'extversion')],
  pg_enum: [...cols('INTEGER', 'oid', 'enumtypid'), ['enumsortorder', 'REAL'], ['enumlabel', 'VARCHAR']],
  pg_depend: [...cols('INTEGER', 'classid', 'objid', 'objsubid', 'refclassid', 'refobjid', 'refobjsubid'), ['deptype', 'VARCHAR']],
  pg_sequence: cols('INTEGER', 'seqrelid', 'seqtypid'),
  pg_event_trigger: [['oid', 'INTEGER'], ...cols('VARCHAR', 'evtname', 'evtevent', 'evtenabled')],
};

/** The catalog tables' names: the guard lets clients read these besides the served relations. */
export const CATALOG_TABLES: readonly string[] = [
  'pg_namespace', 'pg_class', 'pg_attribute', 'pg_type', 'pg_database', 'pg_roles', 'pg_user', 'pg_authid', 'pg_am',
  'pg_description', 'pg_settings', 'pg_tablespace', 'pg_tables', 'pg_views',
  ...Object.keys(EMPTY_TABLES),
  'information_schema_schemata', 'information_schema_tables', 'information_schema_columns', 'information_schema_views',
];

/** Statements creating the catalogs for `relations` (run once, in the server's own database). */
export function catalogStatements(relations: readonly ServedTable[], database = CATALOG_DATABASE): string[] {
  const oids = relations.map((_, i) => FIRST_RELATION_OID + i);
  const attributes = relations.flatMap((r, i) => r.schema.fields.map((f, n) => ({ relation: r, oid: oids[i]!, field: f, attnum: n + 1, type: pgType(f.type) })));
  const namespaces = Object.entries(NAMESPACES);
  return [
    // only the served schemas: DuckDB's `~` matches whole strings, so psql's `nspname !~ '^pg_'`
    // would not hide pg_catalog
    ...table('pg_namespace', [...cols('INTEGER', 'oid', 'nspowner'), ['nspname', 'VARCHAR'], ['nspacl', 'VARCHAR[]']],
      namespaces.filter(([name]) => name === 'public' || relations.some((r) => r.schemaName === name)).map(([name, oid]) => [oid, OWNER, name, null])),
    ...table('pg_class', [
      ...cols('INTEGER', 'oid', 'relnamespace', 'reltype', 'reloftype', 'relowner', 'relam', 'relfilenode', 'reltablespace', 'relpages', 'relallvisible', 'reltoastrelid', 'relnatts', 'relchecks', 'relfrozenxid', 'relminmxid', 'relrewrite'),
      ['relname', 'VARCHAR'], ['reltuples', 'REAL'],
      ...cols('BOOLEAN', 'relhasindex', 'relisshared', 'relhasrules', 'relhastriggers', 'relhassubclass', 'relrowsecurity', 'relforcerowsecurity', 'relispopulated', 'relispartition'),
      ...cols('VARCHAR', 'relpersistence', 'relkind', 'relreplident', 'relpartbound'), ...cols('VARCHAR[]', 'relacl', 'reloptions'),
    ], relations.map((r, i) => [
      oids[i]!, NAMESPACES[r.schemaName] ?? PUBLIC, 0, 0, OWNER, r.kind === 'TABLE' ? 2 : 0, 0, 0, 0, 0, 0, r.schema.fields.length, 0, 0, 0, 0,
      r.name, -1,
      false, false, r.kind === 'VIEW', false, false, false, false, true, false,
      'p', r.kind === 'TABLE' ? 'r' : 'v', 'd', null, null, null,
    ])),
    ...table('pg_attribute', [
      ...cols('INTEGER', 'attrelid', 'atttypid', 'attstattarget', 'attlen', 'attnum', 'attndims', 'attcacheoff', 'atttypmod', 'attinhcount', 'attcollation'),
      ['attname', 'VARCHAR'],
      ...cols('BOOLEAN', 'attbyval', 'attnotnull', 'atthasdef', 'atthasmissing', 'attisdropped', 'attislocal'),
      ...cols('VARCHAR', 'attstorage', 'attalign', 'attidentity', 'attgenerated', 'attcompression'), ...cols('VARCHAR[]', 'attacl', 'attoptions', 'attfdwoptions'),
    ], attributes.map((a) => [
      a.oid, a.type.oid, -1, a.type.size, a.attnum, 0, -1, typeModifier(a.field.type), 0, 0,
      a.field.name,
      a.type.size > 0, !a.field.nullable, false, false, false, true,
      a.type.size > 0 ? 'p' : 'x', 'i', '', '', '', null, null, null,
    ])),
    ...table('pg_type', [
      ...cols('INTEGER', 'oid', 'typnamespace', 'typowner', 'typlen', 'typrelid', 'typelem', 'typarray', 'typbasetype', 'typtypmod', 'typndims', 'typcollation'),
      ...cols('VARCHAR', 'typname', 'typtype', 'typcategory', 'typdelim', 'typinput', 'typoutput', 'typreceive', 'typsend', 'typalign', 'typstorage', 'typdefault', 'typdefaultbin'),
      ...cols('BOOLEAN', 'typbyval', 'typispreferred', 'typisdefined', 'typnotnull'),
    ], Object.entries(TYPES).map(([oid, [name, , length, category]]) => [
      Number(oid), PG_CATALOG, OWNER, length, 0, 0, 0, 0, -1, 0, 0,
      name, 'b', category, ',', `${name}in`, `${name}out`, `${name}recv`, `${name}send`, 'i', length > 0 ? 'p' : 'x', null, null,
      length > 0, false, true, false,
    ])),
    ...table('pg_database', [
      ...cols('INTEGER', 'oid', 'datdba', 'encoding', 'datconnlimit', 'dattablespace'),
      ...cols('VARCHAR', 'datname', 'datlocprovider', 'datcollate', 'datctype', 'daticulocale', 'datcollversion'),
      ...cols('BOOLEAN', 'datistemplate', 'datallowconn'), ['datacl', 'VARCHAR[]'],
    ], [[1, OWNER, 6, -1, 1663, database, 'c', 'C', 'C', null, null, false, true, null]]),
    ...['pg_roles', 'pg_authid'].flatMap((name) => table(name, [
      ['oid', 'INTEGER'], ['rolname', 'VARCHAR'],
      ...cols('BOOLEAN', 'rolsuper', 'rolinherit', 'rolcreaterole', 'rolcreatedb', 'rolcanlogin', 'rolreplication', 'rolbypassrls'),
      ['rolconnlimit', 'INTEGER'], ['rolvaliduntil', 'TIMESTAMP'], ['rolconfig', 'VARCHAR[]'],
    ], [[OWNER, OWNER_NAME, false, true, false, false, true, false, false, -1, null, null]])),
    ...table('pg_user', [['usename', 'VARCHAR'], ['usesysid', 'INTEGER'], ...cols('BOOLEAN', 'usecreatedb', 'usesuper', 'userepl', 'usebypassrls')], [[OWNER_NAME, OWNER, false, false, false, false]]),
    ...table('pg_am', [['oid', 'INTEGER'], ...cols('VARCHAR', 'amname', 'amhandler', 'amtype')], [[2, 'heap', 'heap_tableam_handler', 't']]),
    ...table('pg_tablespace', [['oid', 'INTEGER'], ['spcname', 'VARCHAR'], ['spcowner', 'INTEGER']], [[1663, 'pg_default', OWNER]]),
    // classoid by name: JDBC compares it with 'pg_class'::regclass (a name here)
    ...table('pg_description', [...cols('INTEGER', 'objoid', 'objsubid'), ['classoid', 'VARCHAR'], ['description', 'VARCHAR']],
      relations.flatMap((r, i) => (r.description ? [[oids[i]!, 0, 'pg_class', r.description]] : []))),
    ...table('pg_settings', [...cols('VARCHAR', 'name', 'setting', 'unit', 'category', 'short_desc', 'context', 'vartype', 'source')],
      SETTINGS.map(([name, value]) => [name, value, null, 'bundlebase', name, 'internal', 'string', 'default'])),
    ...table('pg_tables', [...cols('VARCHAR', 'schemaname', 'tablename', 'tableowner', 'tablespace'), ...cols('BOOLEAN', 'hasindexes', 'hasrules', 'hastriggers', 'rowsecurity')],
      relations.filter((r) => r.kind === 'TABLE').map((r) => [r.schemaName, r.name, OWNER_NAME, null, false, false, false, false])),
    ...table('pg_views', cols('VARCHAR', 'schemaname', 'viewname', 'viewowner', 'definition'),
      relations.filter((r) => r.kind === 'VIEW').map((r) => [r.schemaName, r.name, OWNER_NAME, viewDefinition(r.name)])),
    ...Object.entries(EMPTY_TABLES).flatMap(([name, columns]) => table(name, columns)),
    ...table('information_schema_schemata', cols('VARCHAR', 'catalog_name', 'schema_name', 'schema_owner'),
      namespaces.map(([name]) => [database, name, OWNER_NAME])),
    ...table('information_schema_tables', [...cols('VARCHAR', 'table_catalog', 'table_schema', 'table_name', 'table_type', 'is_insertable_into', 'is_typed')],
      relations.map((r) => [database, r.schemaName, r.name, r.kind === 'TABLE' ? 'BASE TABLE' : 'VIEW', 'NO', 'NO'])),
    ...table('information_schema_columns', [
      ...cols('VARCHAR', 'table_catalog', 'table_schema', 'table_name', 'column_name'), ['ordinal_position', 'INTEGER'],
      ...cols('VARCHAR', 'column_default', 'is_nullable', 'data_type', 'udt_name'),
      ...cols('INTEGER', 'character_maximum_length', 'numeric_precision', 'numeric_scale', 'datetime_precision'),
    ], attributes.map((a) => [
      database, a.relation.schemaName, a.relation.name, a.field.name, a.attnum,
      null, a.field.nullable ? 'YES' : 'NO', TYPES[a.type.oid]?.[1] ?? 'text', TYPES[a.type.oid]?.[0] ?? 'text',
      null, null, null, null,
    ])),
    ...table('information_schema_views', cols('VARCHAR', 'table_catalog', 'table_schema', 'table_name', 'view_definition'),
      relations.filter((r) => r.kind === 'VIEW').map((r) => [database, r.schemaName, r.name, viewDefinition(r.name)])),
    ...MACROS(database),
    // type names clients cast to; a cast to them keeps the value
    ...['regclass', 'regtype', 'regproc', 'regnamespace', 'regrole'].map((t) => `CREATE TYPE ${t} AS VARCHAR`),
  ];
}

/** PostgreSQL's atttypmod: numeric's precision and scale, -1 for every other type. */
function typeModifier(type: arrow.DataType): number {
  return arrow.DataType.isDecimal(type) ? ((type.precision << 16) | type.scale) + 4 : -1;
}

function viewDefinition(name: string): string {
  return `-- a bundlebase view: read it with SELECT * FROM ${quoteIdent(name)}`;
}

/** The catalog functions clients call (PostgreSQL's own names), as DuckDB macros. */
function MACROS(database: string): string[] {
  const formats = Object.entries(TYPES).map(([oid, [, text]]) => `WHEN ${oid} THEN ${quoteLiteral(text)}`).join(' ');
  return [
    `CREATE MACRO pg_get_userbyid(role_oid) AS ${quoteLiteral(OWNER_NAME)}`,
    `CREATE MACRO pg_table_is_visible(rel_oid) AS rel_oid IN (SELECT c.oid FROM pg_class c WHERE c.relnamespace = ${PUBLIC})`,
    `CREATE MACRO pg_type_is_visible(type_oid) AS true`,
    `CREATE MACRO pg_encoding_to_char(enc) AS 'UTF8'`,
    // numeric's typmod is ((precision << 16) | scale) + 4, as in PostgreSQL
    `CREATE MACRO format_type(type_oid, type_mod) AS CASE WHEN type_oid = 1700 AND type_mod >= 4 THEN printf('numeric(%d,%d)', (type_mod - 4) >> 16, (type_mod - 4) & 65535) ELSE CASE type_oid ${formats} ELSE 'text' END END`,
    `CREATE MACRO obj_description(obj) AS (SELECT max(d.description) FROM pg_description d WHERE d.objoid = obj AND d.objsubid = 0), (obj, catalog_name) AS (SELECT max(d.description) FROM pg_description d WHERE d.objoid = obj AND d.objsubid = 0)`,
    `CREATE MACRO col_description(rel, col) AS (SELECT max(d.description) FROM pg_description d WHERE d.objoid = rel AND d.objsubid = col)`,
    `CREATE MACRO shobj_description(obj, catalog_name) AS NULL::VARCHAR`,
    `CREATE MACRO pg_get_expr(expr, rel) AS NULL::VARCHAR, (expr, rel, pretty) AS NULL::VARCHAR`,
    `CREATE MACRO pg_get_viewdef(rel) AS (SELECT max(v.definition) FROM pg_views v JOIN pg_class c ON c.relname = v.viewname WHERE c.oid = rel), (rel, pretty) AS (SELECT max(v.definition) FROM pg_views v JOIN pg_class c ON c.relname = v.viewname WHERE c.oid = rel)`,
    `CREATE MACRO pg_get_indexdef(idx) AS NULL::VARCHAR, (idx, col, pretty) AS NULL::VARCHAR`,
    `CREATE MACRO pg_get_constraintdef(con) AS NULL::VARCHAR, (con, pretty) AS NULL::VARCHAR`,
    `CREATE MACRO pg_get_statisticsobjdef_columns(stat) AS NULL::VARCHAR`,
    `CREATE MACRO pg_get_ruledef(rule) AS NULL::VARCHAR, (rule, pretty) AS NULL::VARCHAR`,
    `CREATE MACRO pg_get_triggerdef(trigger) AS NULL::VARCHAR, (trigger, pretty) AS NULL::VARCHAR`,
    `CREATE MACRO pg_relation_is_publishable(rel) AS false`,
    `CREATE MACRO array_upper(arr, dim) AS len(arr)`,
    `CREATE MACRO array_lower(arr, dim) AS CASE WHEN len(arr) > 0 THEN 1 END`,
    `CREATE MACRO pg_tablespace_location(spc) AS ''`,
    `CREATE MACRO pg_relation_size(rel) AS 0::BIGINT, (rel, fork) AS 0::BIGINT`,
    `CREATE MACRO pg_table_size(rel) AS 0::BIGINT`,
    `CREATE MACRO pg_total_relation_size(rel) AS 0::BIGINT`,
    `CREATE MACRO pg_database_size(db) AS 0::BIGINT`,
    `CREATE MACRO pg_size_pretty(n) AS format_bytes(n::BIGINT)`,
    `CREATE MACRO has_table_privilege(rel, priv) AS true, (usr, rel, priv) AS true`,
    `CREATE MACRO has_schema_privilege(nsp, priv) AS true, (usr, nsp, priv) AS true`,
    `CREATE MACRO has_database_privilege(db, priv) AS true, (usr, db, priv) AS true`,
    `CREATE MACRO pg_is_in_recovery() AS false`,
    `CREATE MACRO current_database() AS ${quoteLiteral(database)}`,
    `CREATE MACRO current_schema() AS 'public'`,
    `CREATE MACRO current_schemas(implicit) AS ['pg_catalog', 'public']`,
    `CREATE MACRO version() AS ${quoteLiteral(`PostgreSQL ${SERVER_VERSION}`)}`,
    `CREATE MACRO pg_backend_pid() AS 0`,
  ];
}

/**
 * The client's text, reading our catalogs: `pg_catalog.` prefixes dropped (ours are found
 * first), `information_schema.x` read from `information_schema_x`, PostgreSQL-only syntax psql
 * sends (`OPERATOR(pg_catalog.~)`, `COLLATE pg_catalog.default`) made plain, and
 * `SHOW <setting>` answered from pg_settings. Only code is rewritten, never literals; the guard
 * checks the result like any other query.
 */
export function rewriteForCatalog(sql: string): string {
  const show = /^\s*show\s+"?(\w+)"?\s*;?\s*$/i.exec(sql);
  if (show) return showSetting(show[1]!);
  return mapCode(sql, (code) => code
    .replace(/\bOPERATOR\s*\(\s*(?:pg_catalog\s*\.\s*)?([~!<>=^*+\-/|&#%@]+)\s*\)/gi, ' $1 ')
    .replace(/\bCOLLATE\s+pg_catalog\s*\.\s*default\b/gi, '')
    .replace(/\bpg_catalog\s*\.\s*/gi, '')
    .replace(/\binformation_schema\s*\.\s*(\w+)/gi, 'information_schema_$1')
    // PostgreSQL names a function's single column after the alias (`generate_series(…) s`): DuckDB
    // needs it said
    .replace(/\b(generate_series|unnest)(\s*\((?:[^()]|\([^()]*\))*\))(\s+(?:as\s+)?)(?!(?:where|join|left|right|inner|cross|full|on|order|group|limit|union|natural|using)\b)(\w+)(?!\s*\()/gi, '$1$2$3$4($4)'));
}

function showSetting(name: string): string {
  if (name.toLowerCase() === 'all') return 'SELECT name, setting, short_desc AS description FROM pg_settings ORDER BY name';
  const setting = SETTINGS.find(([n]) => n.toLowerCase() === name.toLowerCase());
  if (!setting) throw new BundlebaseError('NOT_FOUND', `unrecognized configuration parameter "${name}"`);
  return `SELECT setting AS ${quoteIdent(setting[0].toLowerCase())} FROM pg_settings WHERE name = ${quoteLiteral(setting[0])}`;
}
