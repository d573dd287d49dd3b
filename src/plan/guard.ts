import { BundlebaseError } from '../errors.js';

/**
 * Checks a network client's query, given DuckDB's own parse tree of it (`json_serialize_sql`),
 * so that it reaches nothing but the relations we serve: no keyword list that comments or quoting
 * can get past. Allowed: exactly one SELECT; base tables that are served relations or the
 * query's own CTEs or the server's catalog tables, or `schema.table` names in `qualifiedTables`; no table functions (read_csv, range, query…) but unnest and generate_series, no replacement scans
 * (`FROM 'file.csv'` parses as a table named `file.csv`), and no scalar function that reveals the
 * server's settings or environment or touches files.
 */
export function checkClientQuery(parsed: unknown, relations: ReadonlySet<string>, catalogs: ReadonlySet<string> = new Set(), qualifiedTables: ReadonlySet<string> = new Set()): { parameterCount: number } {
  const tree = parsed as { error?: boolean; error_type?: string; error_message?: string; statements?: unknown[] };
  if (tree.error) {
    if (tree.error_type === 'parser') throw new BundlebaseError('SQL_ERROR', `Parser Error: ${tree.error_message}`);
    throw new BundlebaseError('READ_ONLY', 'Only read-only queries are allowed: statements other than a single SELECT over bundle and its views are refused');
  }
  if (!Array.isArray(tree.statements) || tree.statements.length !== 1) throw new BundlebaseError('INVALID_ARGUMENT', 'Send one statement at a time');
  const own = new Set<string>();
  collectCteNames(tree.statements[0], own);
  let parameterCount = 0;
  walk(tree.statements[0], (node) => {
    if (node.type === 'TABLE_FUNCTION') {
      const fn = (node.function as { function_name?: string } | undefined)?.function_name ?? 'a table function';
      // these only compute from their arguments (psql's catalog queries use both)
      if (!COMPUTING_TABLE_FUNCTIONS.has(fn.toLowerCase())) throw new BundlebaseError('PERMISSION_DENIED', `Table function '${fn}' is not allowed: query bundle or its views`);
    }
    if (node.type === 'BASE_TABLE') {
      const name = String(node.table_name);
      const qualified = Boolean(node.schema_name) || Boolean(node.catalog_name);
      // `schema.table` of the server's own schemas (bundle_info), never another catalog
      const allowed = qualified
        ? !node.catalog_name && qualifiedTables.has(`${String(node.schema_name)}.${name}`.toLowerCase())
        : relations.has(name) || own.has(name) || catalogs.has(name);
      if (!allowed) {
        throw new BundlebaseError('NOT_FOUND', `Table '${qualified ? `${node.catalog_name ? `${node.catalog_name}.` : ''}${node.schema_name}.${name}` : name}' does not exist; available: ${[...relations].join(', ')}`);
      }
    }
    if (node.class === 'FUNCTION' && DENIED_FUNCTIONS.test(String(node.function_name))) {
      throw new BundlebaseError('PERMISSION_DENIED', `Function '${node.function_name}' is not allowed over the network`);
    }
    if (node.class === 'PARAMETER') {
      const n = Number(node.identifier);
      if (!Number.isInteger(n) || n < 1) throw new BundlebaseError('INVALID_ARGUMENT', `Only numbered parameters ($1, $2, …) are supported, not '${String(node.identifier)}'`);
      parameterCount = Math.max(parameterCount, n);
    }
  });
  return { parameterCount };
}

/**
 * Scalar functions that read settings, the environment, files or run SQL of their own. Table
 * functions are refused whatever their name.
 */
const DENIED_FUNCTIONS = /^(current_setting|getenv|glob|query|query_table|sniff_csv|load_extension|json_execute_serialized_sql|json_serialize_sql|json_serialize_plan|json_deserialize_sql|which_secret|current_secret\w*|read_\w+|duckdb_\w+|pragma_\w+|parquet_\w+|iceberg_\w+|delta_\w+|sql_auto_complete|enable_\w+|disable_\w+|set_\w+)$/i;

/** Table functions that read nothing: they spread an array or count through a series. */
const COMPUTING_TABLE_FUNCTIONS: ReadonlySet<string> = new Set(['unnest', 'generate_series']);

type Node = Record<string, unknown>;

function walk(value: unknown, visit: (node: Node) => void): void {
  if (Array.isArray(value)) {
    for (const v of value) walk(v, visit);
  } else if (value !== null && typeof value === 'object') {
    visit(value as Node);
    for (const v of Object.values(value)) walk(v, visit);
  }
}

function collectCteNames(statement: unknown, names: Set<string>): void {
  walk(statement, (node) => {
    const map = (node.cte_map as { map?: { key: string }[] } | undefined)?.map;
    for (const entry of map ?? []) names.add(entry.key);
  });
}
