import { BundlebaseError, invalidArgument } from '../errors.js';
import { parseStatements, type AttachStatementOptions, type Statement } from '../language/parse.js';
import type { BundleBase } from './base.js';
import type { AttachOptions } from './inspect.js';
import type { Status } from './types.js';

/**
 * What one statement of the statement language gave back:
 * - `change`: a write was recorded (or committed, undone, …); `message` says what happened;
 * - `rows`: a SELECT's result, not read yet — stream it (`rows.stream()`) or materialise it, then
 *   close it;
 * - `table`: a small table known at once (SHOW …, DESCRIBE DATA);
 * - `text`: EXPLAIN's plan.
 */
export type StatementResult =
  | { kind: 'change'; statement: Statement; message: string }
  | { kind: 'rows'; statement: Statement; rows: BundleBase }
  | { kind: 'table'; statement: Statement; columns: string[]; rows: unknown[][] }
  | { kind: 'text'; statement: Statement; text: string };

/** What statements read: a Bundle or a BundleBuilder. */
export interface StatementReader<View extends BundleBase> extends BundleBase {
  select(sql: string): PromiseLike<View>;
}

/** What write statements change: a BundleBuilder (described by shape, as it is built on this module). */
export interface StatementWriter<View extends BundleBase> {
  attach(url: string, options: AttachOptions): PromiseLike<unknown>;
  detach(source: string): PromiseLike<unknown>;
  replace(source: string, url: string, options: AttachOptions): PromiseLike<unknown>;
  filter(where: string): PromiseLike<unknown>;
  delete(where: string, params: undefined, options: { always: boolean }): PromiseLike<unknown>;
  update(set: Record<string, string>, where: string | undefined, params: undefined, options: { always: boolean }): PromiseLike<unknown>;
  addColumn(name: string, expression: string): PromiseLike<unknown>;
  removeColumns(names: string[]): PromiseLike<unknown>;
  renameColumn(from: string, to: string): PromiseLike<unknown>;
  castColumn(name: string, type: string, options: { lenient: boolean; clean?: string }): PromiseLike<unknown>;
  normalizeColumnNames(): PromiseLike<unknown>;
  join(name: string, url: string, on: string, how: string): PromiseLike<unknown>;
  createView(name: string, view: View): PromiseLike<unknown>;
  dropView(name: string): PromiseLike<unknown>;
  renameView(from: string, to: string): PromiseLike<unknown>;
  createIndex(column: string): PromiseLike<unknown>;
  dropIndex(column: string): PromiseLike<unknown>;
  rebuildIndex(column: string): PromiseLike<unknown>;
  reindex(): PromiseLike<unknown>;
  setName(name: string): PromiseLike<unknown>;
  setDescription(description: string): PromiseLike<unknown>;
  setConfig(key: string, value: string, urlPrefix?: string): PromiseLike<unknown>;
  restore(version: string | number): PromiseLike<unknown>;
  undo(): PromiseLike<unknown>;
  reset(): PromiseLike<unknown>;
  commit(message: string): Promise<void>;
  status(): Status;
}

type WriteStatement = Exclude<Statement, { type: 'show' | 'explain' | 'describeData' | 'select' }>;

/**
 * Runs `sql` (statements separated by ";") in order. A syntax error anywhere stops everything
 * before it runs; an error in a statement stops the ones after it (those before stay recorded),
 * closes the row results already made, and names the statement. With `each`, every result goes
 * to it as soon as it is made (the REPL and `exec` print it) and none is returned.
 */
export async function executeStatements<View extends BundleBase>(
  sql: string,
  reader: StatementReader<View>,
  writer?: StatementWriter<View>,
  each?: (result: StatementResult) => Promise<void>,
): Promise<StatementResult[]> {
  const statements = parseStatements(sql);
  const results: StatementResult[] = [];
  for (const [i, statement] of statements.entries()) {
    try {
      const result = await runStatement(statement, reader, writer);
      if (each) await each(result);
      else results.push(result);
    } catch (err) {
      await Promise.all(results.map((r) => (r.kind === 'rows' ? r.rows.close() : undefined)));
      throw statements.length > 1 ? inStatement(err, i + 1, statement) : err;
    }
  }
  return results;
}

/** `err` with the statement it came from in front of its message (same code). */
function inStatement(err: unknown, number: number, statement: Statement): unknown {
  if (!(err instanceof BundlebaseError)) return err;
  return new BundlebaseError(err.code, `Statement ${number} (line ${statement.position.line}, ${brief(statement.text)}): ${err.message}`, { cause: err });
}

const brief = (text: string) => {
  const line = text.replace(/\s+/g, ' ');
  return line.length > 40 ? `${line.slice(0, 39)}…` : line;
};

/** Runs one parsed statement: reads on `reader`, writes on `writer` (READ_ONLY without one). */
async function runStatement<View extends BundleBase>(statement: Statement, reader: StatementReader<View>, writer?: StatementWriter<View>): Promise<StatementResult> {
  switch (statement.type) {
    case 'select':
      return { kind: 'rows', statement, rows: await reader.select(statement.sql) };
    case 'explain':
      return { kind: 'text', statement, text: statement.sql === undefined ? await reader.explain() : await explainSelect(reader, statement.sql) };
    case 'describeData':
      return { kind: 'table', statement, ...(await profileTable(reader, statement.columns)) };
    case 'show':
      return { kind: 'table', statement, ...(await showTable(statement.what, reader, writer)) };
  }
  if (!writer) throw new BundlebaseError('READ_ONLY', `'${brief(statement.text)}' changes the bundle, which is open read-only: run it on a builder (bundle.extend())`);
  return { kind: 'change', statement, message: await write(statement, reader, writer) };
}

async function explainSelect(reader: StatementReader<BundleBase>, sql: string): Promise<string> {
  const selected = await reader.select(sql);
  try {
    return await selected.explain();
  } finally {
    await selected.close();
  }
}

/** Records a write statement; returns what it did, in the words of `status()` where it can. */
async function write<View extends BundleBase>(statement: WriteStatement, reader: StatementReader<View>, writer: StatementWriter<View>): Promise<string> {
  const described = async (recorded: PromiseLike<unknown>) => {
    await recorded;
    return writer.status().changes.at(-1)?.description ?? 'Done';
  };
  switch (statement.type) {
    case 'attach':
      return described(writer.attach(statement.url, attachOptions(statement.options)));
    case 'detach':
      return described(writer.detach(statement.source));
    case 'replace':
      return described(writer.replace(statement.source, statement.url, attachOptions(statement.options)));
    case 'filter':
      return described(writer.filter(statement.where));
    case 'delete':
      return described(writer.delete(statement.where, undefined, { always: statement.always }));
    case 'update':
      return described(writer.update(Object.fromEntries(statement.set), statement.where, undefined, { always: statement.always }));
    case 'addColumn':
      return described(writer.addColumn(statement.name, statement.expression));
    case 'dropColumns':
      return described(writer.removeColumns(statement.names));
    case 'renameColumn':
      return described(writer.renameColumn(statement.from, statement.to));
    case 'castColumn':
      return described(writer.castColumn(statement.name, statement.to, { lenient: statement.lenient, clean: statement.clean }));
    case 'normalizeColumnNames':
      return described(writer.normalizeColumnNames());
    case 'join':
      return described(writer.join(statement.name, statement.url, statement.on, statement.how));
    case 'createView':
      return described(writer.createView(statement.name, await reader.select(statement.sql)));
    case 'dropView':
      return described(writer.dropView(statement.name));
    case 'renameView':
      return described(writer.renameView(statement.from, statement.to));
    case 'createIndex':
      return described(writer.createIndex(statement.column));
    case 'dropIndex':
      return described(writer.dropIndex(statement.column));
    case 'rebuildIndex':
      return described(writer.rebuildIndex(statement.column));
    case 'reindex':
      return described(writer.reindex());
    case 'setName':
      return described(writer.setName(statement.name));
    case 'setDescription':
      return described(writer.setDescription(statement.description));
    case 'setConfig':
      return described(writer.setConfig(statement.key, statement.value, statement.urlPrefix));
    case 'restore':
      return `${await described(writer.restore(statement.version))} (commit to keep it)`;
    case 'undo': {
      const last = writer.status().changes.at(-1);
      await writer.undo();
      return last ? `Undid: ${last.description}` : 'No uncommitted changes';
    }
    case 'reset': {
      const count = writer.status().changes.length;
      await writer.reset();
      return `Dropped ${count} uncommitted change(s)`;
    }
    case 'commit': {
      const count = writer.status().changes.length;
      await writer.commit(statement.message);
      return `Committed ${reader.version}: ${statement.message} (${count} change(s))`;
    }
    default:
      return unreachable(statement);
  }
}

function unreachable(statement: never): never {
  throw invalidArgument(`Unknown statement ${JSON.stringify(statement)}`);
}

const FORMATS = ['parquet', 'csv', 'json'] as const;

/** ATTACH … WITH (…) options as attach()'s, refusing values of the wrong kind. */
function attachOptions(options: AttachStatementOptions): AttachOptions {
  const { format, header, delimiter, quote, join, save_as: saveAs } = options;
  const lower = typeof format === 'string' ? format.toLowerCase() : format;
  if (lower !== undefined && !FORMATS.includes(lower as (typeof FORMATS)[number])) throw invalidArgument(`Unknown format '${String(format)}'; use ${FORMATS.join(', ')}`);
  if (header !== undefined && typeof header !== 'boolean') throw invalidArgument(`header must be true or false, not '${String(header)}'`);
  for (const [name, value] of [['delimiter', delimiter], ['quote', quote]] as const) {
    if (value !== undefined && typeof value !== 'string') throw invalidArgument(`${name} must be quoted text, e.g. ${name} = ';'`);
  }
  // attach() refuses an unknown saveAs, naming it
  return { format: lower as AttachOptions['format'], header, delimiter, quote, join, saveAs: typeof saveAs === 'string' ? (saveAs.toLowerCase() as AttachOptions['saveAs']) : saveAs };
}

/** A small known table: column names and rows. */
interface Table {
  columns: string[];
  rows: unknown[][];
}

async function showTable(what: 'history' | 'status' | 'schema' | 'count' | 'views', reader: BundleBase, writer?: StatementWriter<BundleBase>): Promise<Table> {
  switch (what) {
    case 'history':
      return historyTable(reader);
    case 'schema':
      return schemaTable(reader);
    case 'count':
      return { columns: ['count'], rows: [[await reader.numRows()]] };
    case 'views':
      return { columns: ['name', 'id'], rows: [...reader.views()].map(([id, name]) => [name, id]) };
    case 'status': {
      const changes = writer?.status().changes ?? [];
      return { columns: ['change', 'description', 'operations'], rows: changes.map((c, i) => [i + 1, c.description, c.operations.map((o) => o.type).join(', ')]) };
    }
  }
}

/** The commits, oldest first (SHOW HISTORY, `bundlebase history`). */
export function historyTable(b: BundleBase): Table {
  const rows = b.history().map((c) => [c.version, c.timestamp, c.author, c.message, c.changes.map((x) => x.description).join('; ')]);
  return { columns: ['version', 'timestamp', 'author', 'message', 'changes'], rows };
}

/** The columns and their types (SHOW SCHEMA, `bundlebase schema`). */
export async function schemaTable(b: BundleBase): Promise<Table> {
  const schema = await b.schema();
  return { columns: ['column', 'type', 'nullable'], rows: schema.fields.map((f) => [f.name, String(f.type), f.nullable]) };
}

/** describeData() as a table, one row per column (DESCRIBE DATA, `bundlebase describe-data`). */
export async function profileTable(b: BundleBase, columns: readonly string[]): Promise<Table> {
  const profiles = await b.describeData(columns.length > 0 ? [...columns] : undefined);
  const rows = profiles.map((p) => [p.name, p.type, p.count, p.nulls, p.distinct, p.min, p.max, p.mean, p.stddev]);
  return { columns: ['column', 'type', 'count', 'nulls', 'distinct', 'min', 'max', 'mean', 'stddev'], rows };
}
