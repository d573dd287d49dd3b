import * as arrow from 'apache-arrow';
import { likeMatches } from './like.js';
import { CATALOG_DATABASE, SERVER_VERSION, type ServedTable } from './catalog.js';

/**
 * Flight SQL's metadata commands (GetCatalogs, GetDbSchemas, GetTables, GetTableTypes,
 * GetSqlInfo) answered from what the server serves: one catalog, the `public` schema with the
 * bundle and its views. Result schemas are the ones the Flight SQL specification fixes.
 */

const utf8 = (name: string, nullable = false) => new arrow.Field(name, new arrow.Utf8(), nullable);

/** The answer to a metadata command; undefined when `name` is not one. */
export function metadataTable(name: string, value: Record<string, unknown>, tables: readonly ServedTable[], encodeSchema: (s: arrow.Schema) => Uint8Array): arrow.Table | undefined {
  switch (name) {
    case 'CommandGetCatalogs':
      return tableOf(new arrow.Schema([utf8('catalog_name')]), { catalog_name: [CATALOG_DATABASE] });
    case 'CommandGetDbSchemas': {
      const schemas = [...new Set(tables.map((t) => t.schemaName))].filter((s) => inCatalog(value.catalog) && matches(s, value.db_schema_filter_pattern));
      return tableOf(new arrow.Schema([utf8('catalog_name', true), utf8('db_schema_name')]), { catalog_name: schemas.map(() => CATALOG_DATABASE), db_schema_name: schemas });
    }
    case 'CommandGetTables':
      return getTables(value, tables, encodeSchema);
    case 'CommandGetTableTypes':
      return tableOf(new arrow.Schema([utf8('table_type')]), { table_type: ['TABLE', 'VIEW'] });
    case 'CommandGetSqlInfo':
      return sqlInfo((value.info as number[] | undefined) ?? []);
    default:
      return undefined;
  }
}

function inCatalog(catalog: unknown): boolean {
  return catalog === undefined || catalog === null || catalog === '' || catalog === CATALOG_DATABASE;
}

function matches(text: string, pattern: unknown): boolean {
  return typeof pattern !== 'string' || pattern === '' || likeMatches(text, pattern);
}

function getTables(value: Record<string, unknown>, tables: readonly ServedTable[], encodeSchema: (s: arrow.Schema) => Uint8Array): arrow.Table {
  const types = (value.table_types as string[] | undefined) ?? [];
  const include = Boolean(value.include_schema);
  const chosen = tables.filter((t) => inCatalog(value.catalog) && matches(t.schemaName, value.db_schema_filter_pattern) &&
    matches(t.name, value.table_name_filter_pattern) && (types.length === 0 || types.includes(t.kind)));
  const schema = new arrow.Schema([
    utf8('catalog_name', true), utf8('db_schema_name', true), utf8('table_name'), utf8('table_type'),
    ...(include ? [new arrow.Field('table_schema', new arrow.Binary(), false)] : []),
  ]);
  return tableOf(schema, {
    catalog_name: chosen.map(() => CATALOG_DATABASE),
    db_schema_name: chosen.map((t) => t.schemaName),
    table_name: chosen.map((t) => t.name),
    table_type: chosen.map((t) => t.kind),
    ...(include ? { table_schema: chosen.map((t) => encodeSchema(t.schema)) } : {}),
  });
}

/** SqlInfo ids of the Flight SQL specification and what this server answers for each. */
const SQL_INFO: [id: number, value: string | boolean | number][] = [
  [0, 'bundlebase'], // FLIGHT_SQL_SERVER_NAME
  [1, SERVER_VERSION], // FLIGHT_SQL_SERVER_VERSION
  [2, '21'], // FLIGHT_SQL_SERVER_ARROW_VERSION (apache-arrow's major)
  [3, true], // FLIGHT_SQL_SERVER_READ_ONLY
  [4, true], // FLIGHT_SQL_SERVER_SQL
  [5, false], // FLIGHT_SQL_SERVER_SUBSTRAIT
  [8, 0], // FLIGHT_SQL_SERVER_TRANSACTION: none
  [9, false], // FLIGHT_SQL_SERVER_CANCEL
  [500, false], // SQL_DDL_CATALOG
  [501, false], // SQL_DDL_SCHEMA
  [502, false], // SQL_DDL_TABLE
  [504, '"'], // SQL_IDENTIFIER_QUOTE_CHAR
];

/** The value union of GetSqlInfo's result: member order and type ids as the specification fixes them. */
const SQL_INFO_VALUE = new arrow.DenseUnion([0, 1, 2, 3, 4, 5], [
  utf8('string_value'),
  new arrow.Field('bool_value', new arrow.Bool(), false),
  new arrow.Field('bigint_value', new arrow.Int64(), false),
  new arrow.Field('int32_bitmask', new arrow.Int32(), false),
  new arrow.Field('string_list', new arrow.List(utf8('item', true)), false),
  new arrow.Field('int32_to_int32_list_map', new arrow.Map_(new arrow.Field('entries', new arrow.Struct<{ key: arrow.Int32; value: arrow.List<arrow.Int32> }>([
    new arrow.Field('key', new arrow.Int32(), false),
    new arrow.Field('value', new arrow.List(new arrow.Field('item', new arrow.Int32(), true)), true),
  ]), false)), false),
]);

function sqlInfo(requested: readonly number[]): arrow.Table {
  const rows = SQL_INFO.filter(([id]) => requested.length === 0 || requested.includes(id));
  const member = (v: string | boolean | number) => (typeof v === 'string' ? 0 : typeof v === 'boolean' ? 1 : 3);
  const byMember = SQL_INFO_VALUE.children.map((_, m) => rows.filter(([, v]) => member(v) === m).map(([, v]) => v));
  const offsets = new Int32Array(rows.length);
  const seen = [0, 0, 0, 0, 0, 0];
  rows.forEach(([, v], i) => (offsets[i] = seen[member(v)]!++));
  const children = SQL_INFO_VALUE.children.map((f, m) => dataOf(f.type, byMember[m]!));
  const values = arrow.makeData({ type: SQL_INFO_VALUE, length: rows.length, nullCount: 0, typeIds: Int8Array.from(rows, ([, v]) => member(v)), valueOffsets: offsets, children });
  const schema = new arrow.Schema([new arrow.Field('info_name', new arrow.Uint32(), false), new arrow.Field('value', SQL_INFO_VALUE, false)]);
  const data = arrow.makeData({ type: new arrow.Struct(schema.fields), length: rows.length, nullCount: 0, children: [dataOf(new arrow.Uint32(), rows.map(([id]) => id)), values] });
  return new arrow.Table([new arrow.RecordBatch(schema, data)]);
}

function dataOf(type: arrow.DataType, values: unknown[]): arrow.Data {
  return arrow.vectorFromArray(values, type).data[0] ?? arrow.makeData({ type, length: 0 } as never);
}

/** A table from plain column arrays, with exactly `schema` (also when it has no rows). */
function tableOf(schema: arrow.Schema, columns: Record<string, unknown[]>): arrow.Table {
  const length = columns[schema.fields[0]!.name]!.length;
  if (length === 0) return new arrow.Table(schema);
  const children = schema.fields.map((f) => dataOf(f.type, columns[f.name]!));
  const data = arrow.makeData({ type: new arrow.Struct(schema.fields), length, nullCount: 0, children });
  return new arrow.Table([new arrow.RecordBatch(schema, data)]);
}
