import * as arrow from 'apache-arrow';
import type { BundleBuilder } from '../bundle/builder.js';
import { executeStatements, type StatementResult } from '../bundle/execute.js';
import type { Trust } from '../bundle/load.js';
import { open } from '../bundle/open.js';
import { BundlebaseError } from '../errors.js';
import { parseStatements, type Statement } from '../language/parse.js';
import { schemeOf } from '../storage/location.js';

/**
 * The statement language for authenticated clients of `serve --writable`. Each client session
 * (a PostgreSQL connection, a Flight bearer token) has a builder of its own on the committed
 * bundle: its statements are staged there until its COMMIT, which commits atomically as the
 * library does — of two sessions based on the same commit the first COMMIT wins, the other gets
 * CONFLICT, nothing is written for it and its session starts again from the new commit. Plain
 * SELECTs never come here: they stay on the sandboxed read path.
 */
export class BundleWrites {
  /** The result of several statements: one row each (a single SHOW … returns its own table). */
  static readonly RESULT_SCHEMA = new arrow.Schema([new arrow.Field('statement', new arrow.Utf8(), true), new arrow.Field('result', new arrow.Utf8(), true)]);
  private readonly sessions = new Map<unknown, Promise<BundleBuilder>>();

  constructor(
    private readonly url: string,
    private readonly trust: Trust | undefined,
    /** Called after a commit: the read side then serves the new version. */
    private readonly committed: () => Promise<void>,
  ) {}

  /** The statements of `sql` when it is the statement language and not only SELECTs; else undefined (a read). */
  static statementsOf(sql: string): Statement[] | undefined {
    let statements: Statement[];
    try {
      statements = parseStatements(sql);
    } catch {
      return undefined; // not the language (catalog queries, SET of client settings…): the read path decides
    }
    return statements.some((s) => s.type !== 'select') ? statements : undefined;
  }

  /** Runs the statements in the session's builder; one result table for the client. */
  async run(session: unknown, sql: string): Promise<arrow.Table> {
    const statements = BundleWrites.statementsOf(sql) ?? [];
    for (const statement of statements) refuseOverNetwork(statement);
    const builder = await this.builder(session);
    const before = builder.version;
    const results: StatementResult[] = [];
    try {
      await executeStatements(sql, builder, builder, async (result) => {
        results.push(result);
      });
    } catch (err) {
      if (err instanceof BundlebaseError && err.code === 'CONFLICT') {
        await this.end(session);
        throw new BundlebaseError('CONFLICT', `${err.message}; this session's uncommitted changes were dropped: run them again on the new version`, { cause: err });
      }
      throw err;
    } finally {
      if (builder.version !== before) await this.committed();
    }
    return resultTable(results);
  }

  /** Drops a session's uncommitted changes (the client left). */
  async end(session: unknown): Promise<void> {
    const builder = this.sessions.get(session);
    this.sessions.delete(session);
    await (await builder?.catch(() => undefined))?.close();
  }

  async close(): Promise<void> {
    await Promise.all([...this.sessions.keys()].map((s) => this.end(s)));
  }

  private builder(session: unknown): Promise<BundleBuilder> {
    let builder = this.sessions.get(session);
    if (!builder) {
      builder = open(this.url, { trust: this.trust }).then(async (b) => b.extend());
      this.sessions.set(session, builder);
      builder.catch(() => this.sessions.delete(session));
    }
    return builder;
  }
}

/**
 * A network client reaches the server's files only inside the bundle: a source must be a path
 * relative to the bundle's directory, without "..". A SELECT inside a script would bypass the
 * read path's checks: it runs on its own.
 */
function refuseOverNetwork(statement: Statement): void {
  if (statement.type === 'select') throw new BundlebaseError('INVALID_ARGUMENT', `Run '${statement.text}' on its own: a SELECT does not share a request with write statements`);
  const url = statement.type === 'attach' || statement.type === 'replace' || statement.type === 'join' ? statement.url : undefined;
  if (url !== undefined && (schemeOf(url) !== undefined || url.startsWith('/') || url.split(/[\\/]/).includes('..'))) {
    throw new BundlebaseError('PERMISSION_DENIED', `Over the network a source must be a path inside the bundle's directory (relative, without ".."): '${url}' is not`);
  }
}

/**
 * What the client gets back: a single statement's table as it is (SHOW …, DESCRIBE DATA), else
 * one row per statement with what it did. Values travel as text.
 */
function resultTable(results: StatementResult[]): arrow.Table {
  const [only] = results;
  if (results.length === 1 && only?.kind === 'table') return textTable(only.columns, only.rows);
  return textTable(['statement', 'result'], results.map((r) => [r.statement.text, r.kind === 'change' ? r.message : r.kind === 'text' ? r.text : `${r.kind === 'table' ? r.rows.length : 0} row(s)`]));
}

function textTable(columns: string[], rows: unknown[][]): arrow.Table {
  const text = (v: unknown) => (v === null || v === undefined ? null : v instanceof Date ? v.toISOString() : String(v));
  return new arrow.Table(Object.fromEntries(columns.map((c, i) => [c, arrow.vectorFromArray(rows.map((r) => text(r[i])), new arrow.Utf8())])));
}
