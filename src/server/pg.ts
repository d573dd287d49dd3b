import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { hashMd5Password, PostgresConnection } from 'pg-gateway';
import type * as arrow from 'apache-arrow';
import { BundlebaseError } from '../errors.js';
import { BundleWrites } from './writes.js';
import { resolveLimits, type ServerLimits } from './limits.js';
import { AuthThrottle, secretsEqual } from './auth.js';
import type { EngineConnection } from '../engine/engine.js';
import { paramFromText } from '../engine/params.js';
import type { BundleQueries, Prepared } from './queries.js';
import { columnTexts, pgType } from './pgTypes.js';
import { isSessionSetting, SERVER_VERSION } from './catalog.js';

export interface PgServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Required password (MD5 authentication, any user name); none means no authentication. */
  password?: string;
  /** PEM certificate and key file paths: serve TLS. */
  tls?: { cert: string; key: string };
  /** Resource limits (see limits.ts); the defaults when absent. */
  limits?: ServerLimits;
  /** serve --writable: clients may run the statement language. */
  writes?: BundleWrites;
}

export interface RunningServer {
  port: number;
  close(): Promise<void>;
}

/** SQLSTATE for an error: read-only refusals, syntax, unknown names, permissions. */
function sqlState(err: unknown): string {
  const message = err instanceof Error ? err.message : '';
  if (err instanceof BundlebaseError && err.code === 'READ_ONLY') return '25006';
  if (err instanceof BundlebaseError && err.code === 'PERMISSION_DENIED') return '42501';
  if (err instanceof BundlebaseError && err.code === 'NOT_FOUND') return '42P01';
  if (err instanceof BundlebaseError && err.code === 'TIMEOUT') return '57014';
  if (err instanceof BundlebaseError && err.code === 'BUSY') return '53300';
  if (err instanceof BundlebaseError && err.code === 'CONFLICT') return '40001';
  if (/Permission Error/.test(message)) return '42501';
  if (/Parser Error|syntax error/i.test(message)) return '42601';
  if (/Table with name .* does not exist|Catalog Error/.test(message)) return '42P01';
  if (/Referenced column .* not found|Binder Error/.test(message)) return '42703';
  if (/Conversion Error|Invalid Input Error/.test(message)) return '22P02';
  if (err instanceof BundlebaseError && err.code === 'INVALID_ARGUMENT') return '22023';
  return 'XX000';
}

/**
 * A parsed statement: a query, a session command that changes nothing here (its tag), or
 * statements of the language run by a writable server (their result).
 */
type Planned = { prepared: Prepared; tag?: undefined; result?: undefined } | { tag: string; prepared?: undefined; result?: undefined } | { result: arrow.Table; prepared?: undefined; tag?: undefined };

interface Portal {
  planned: Planned;
  values: (string | null)[];
}

/**
 * Session statements clients send on their own (JDBC's `SET extra_float_digits`, a BI tool's
 * `BEGIN … ROLLBACK`): accepted and ignored, as the bundle is read-only. SET only of PostgreSQL
 * client settings: DuckDB's own (threads, memory_limit…) are refused. Returns the command tag.
 */
function sessionCommandTag(sql: string): string | undefined {
  const text = sql.trim().replace(/;\s*$/, '');
  const set = /^(set|reset)\s+(?:(?:session|local)\s+)?"?(\w+)"?(\s*(=|to)\s*[^;]*)?$/is.exec(text);
  if (set) return isSessionSetting(set[2]!) ? set[1]!.toUpperCase() : undefined; // others (threads…) stay refused
  if (/^(begin|start\s+transaction)(\s+(work|transaction|read\s+only|isolation\s+level\s+[\w ]+))*$/i.test(text)) return 'BEGIN';
  if (/^(commit|end)(\s+(work|transaction))?$/i.test(text)) return 'COMMIT';
  if (/^(rollback|abort)(\s+(work|transaction))?$/i.test(text)) return 'ROLLBACK';
  if (/^discard\s+all$/i.test(text)) return 'DISCARD ALL';
  return undefined;
}

type Writer = PostgresConnection['writer'];
type Reader = PostgresConnection['reader'];

/**
 * One client connection after authentication: the simple and extended query protocols, after
 * `pg-gateway` did startup, TLS and MD5 authentication; its message reader and writer are reused.
 */
class Session {
  private readonly statements = new Map<string, Planned>();
  private readonly portals = new Map<string, Portal>();
  private failed = false; // extended protocol: skip to Sync after an error
  private connection: Promise<EngineConnection> | undefined;
  private generation = 0;
  private readonly closed = new AbortController();

  constructor(
    private readonly socket: net.Socket,
    private readonly queries: BundleQueries,
    private readonly writer: Writer,
    private readonly reader: Reader,
    private readonly maxMessageBytes: number,
    private readonly writes?: BundleWrites,
  ) {
    socket.on('close', () => {
      this.closed.abort();
      void this.connection?.then((c) => c.close(), () => undefined);
      void this.writes?.end(this);
    });
  }

  private engine(): Promise<EngineConnection> {
    if (this.generation !== this.queries.generation) {
      // a client committed: read the new version from now on
      void this.connection?.then((c) => c.close(), () => undefined);
      this.connection = undefined;
      this.generation = this.queries.generation;
    }
    this.connection ??= this.queries.connect();
    return this.connection;
  }

  private async send(buffer: Buffer): Promise<void> {
    if (this.socket.destroyed) return;
    if (!this.socket.write(buffer)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.socket.off('drain', done);
          this.socket.off('close', done);
          resolve();
        };
        this.socket.on('drain', done);
        this.socket.on('close', done);
      });
    }
  }

  private message(code: string, build?: (w: Writer) => void): Buffer {
    build?.(this.writer);
    return this.writer.flush(code.charCodeAt(0));
  }

  private readyForQuery(): Promise<void> {
    return this.send(this.message('Z', (w) => w.addString('I')));
  }

  private async error(err: unknown): Promise<void> {
    const text = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.replace(/^Query: /, '');
    await this.send(this.message('E', (w) => {
      w.addString('S').addCString('ERROR').addString('V').addCString('ERROR');
      w.addString('C').addCString(sqlState(err)).addString('M').addCString(text).addCString('');
    }));
  }

  private rowDescription(schema: arrow.Schema): Buffer {
    return this.message('T', (w) => {
      w.addInt16(schema.fields.length);
      for (const field of schema.fields) {
        const { oid, size } = pgType(field.type);
        w.addCString(field.name).addInt32(0).addInt16(0).addInt32(oid).addInt16(size).addInt32(-1).addInt16(0);
      }
    });
  }

  /** RowDescription of a query or statements' result; NoData of a session command. */
  private describeResult(planned: Planned): Buffer {
    const schema = planned.prepared?.schema ?? planned.result?.schema;
    return schema ? this.rowDescription(schema) : this.message('n');
  }

  /** Streams the rows of a prepared query as DataRow messages; returns the row count. */
  private async sendRows(prepared: Prepared, values: (string | null)[]): Promise<number> {
    const params = values.map((v, i) => paramFromText(v, prepared.parameterTypes[i]));
    const connection = await this.engine();
    let rows = 0;
    const stream = this.queries.stream(connection, prepared, params);
    try {
      for await (const group of stream) {
        for (const batch of group) {
          if (this.closed.signal.aborted) return rows; // the client left: stop the query
          await this.send(this.dataRows(batch));
          rows += batch.numRows;
        }
      }
    } finally {
      await stream.return(undefined);
    }
    return rows;
  }

  private dataRows(batch: arrow.RecordBatch): Buffer {
    const columns = batch.schema.fields.map((_, i) => columnTexts(batch.getChildAt(i)!).map((t) => (t === null ? null : Buffer.from(t))));
    const messages: Buffer[] = [];
    for (let r = 0; r < batch.numRows; r++) {
      messages.push(this.message('D', (w) => {
        w.addInt16(columns.length);
        for (const column of columns) {
          const cell = column[r];
          if (cell === null || cell === undefined) w.addInt32(-1);
          else w.addInt32(cell.length).add(cell);
        }
      }));
    }
    return Buffer.concat(messages);
  }

  private async plan(sql: string): Promise<Planned> {
    if (this.writes && BundleWrites.statementsOf(sql)) return { result: await this.writes.run(this, sql) };
    const tag = sessionCommandTag(sql);
    return tag !== undefined ? { tag } : { prepared: await this.queries.prepare(await this.engine(), sql) };
  }

  /** Runs a planned statement: its rows, then CommandComplete. */
  private async execute(planned: Planned, values: (string | null)[]): Promise<void> {
    if (planned.result) for (const batch of planned.result.batches) await this.send(this.dataRows(batch));
    const tag = planned.prepared ? `SELECT ${await this.sendRows(planned.prepared, values)}` : planned.result ? `SELECT ${planned.result.numRows}` : planned.tag;
    await this.send(this.message('C', (w) => w.addCString(tag)));
  }

  async simpleQuery(sql: string): Promise<void> {
    try {
      if (sql.trim().replace(/;\s*$/, '') === '') {
        await this.send(this.message('I'));
      } else {
        const planned = await this.plan(sql);
        if (!planned.tag) await this.send(this.describeResult(planned));
        await this.execute(planned, []);
      }
    } catch (err) {
      await this.error(err);
    }
    await this.readyForQuery();
  }

  private queue: Promise<void> = Promise.resolve();
  /** Received bytes not yet framed, kept as chunks: a large message is joined once, not per chunk. */
  private chunks: Buffer[] = [];
  private buffered = 0;

  /**
   * Takes over the socket after authentication. Frames are a type byte and an int32 length; the
   * fields inside are read with the gateway's reader. (pg-gateway 0.2.4, used for startup, TLS and
   * authentication, loses every message after the first in a packet, which breaks the pipelined
   * extended protocol that node-postgres uses.) A message declaring more than maxMessageBytes
   * closes the connection before anything is buffered.
   */
  start(): void {
    this.socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      while (this.buffered >= 5) {
        const head = this.chunks[0]!.length >= 5 ? this.chunks[0]! : this.join();
        const end = 1 + head.readUInt32BE(1);
        if (end - 1 < 4 || end > this.maxMessageBytes) {
          this.socket.end(fatal(this.writer, '54000', `Message of ${end} bytes is larger than the server allows (${this.maxMessageBytes})`));
          this.socket.destroy();
          return;
        }
        if (this.buffered < end) break;
        const all = this.join();
        this.enqueue(all.subarray(0, end));
        this.chunks = all.length > end ? [all.subarray(end)] : [];
        this.buffered -= end;
      }
    });
  }

  private join(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return this.chunks[0]!;
  }

  /**
   * Queues one frontend message. The bytes are copied (the gateway reuses its buffer) and messages
   * run strictly in order, one at a time, whatever the socket delivers meanwhile.
   */
  enqueue(data: Uint8Array): void {
    const copy = Buffer.from(data);
    this.queue = this.queue.then(() => this.handle(copy)).catch(() => {
      this.socket.destroy();
    });
  }

  private async handle(data: Buffer): Promise<void> {
    const code = String.fromCharCode(data[0]!);
    this.reader.setBuffer(5, data);
    if (code === 'Q') return this.simpleQuery(this.reader.cstring());
    if (code === 'X') {
      this.socket.end();
      return;
    }
    if (code === 'S') {
      this.failed = false;
      return this.readyForQuery();
    }
    if (this.failed) return;
    try {
      await this.extended(code);
    } catch (err) {
      this.failed = true;
      await this.error(err);
    }
  }

  private async extended(code: string): Promise<void> {
    const r = this.reader;
    switch (code) {
      case 'P': {
        const name = r.cstring();
        const sql = r.cstring();
        this.statements.set(name, await this.plan(sql));
        return this.send(this.message('1'));
      }
      case 'B': {
        const portal = r.cstring();
        const statement = r.cstring();
        const planned = this.statements.get(statement);
        if (!planned) throw new BundlebaseError('NOT_FOUND', `Prepared statement '${statement}' does not exist`);
        const formats = Array.from({ length: r.int16() }, () => r.int16());
        const values = Array.from({ length: r.int16() }, (_, i) => {
          const length = r.int32();
          if (length < 0) return null;
          if ((formats[i] ?? formats[0] ?? 0) !== 0) throw new BundlebaseError('INVALID_ARGUMENT', 'Binary parameter values are not supported; send text');
          return r.string(length);
        });
        const resultFormats = Array.from({ length: r.int16() }, () => r.int16());
        if (resultFormats.some((f) => f !== 0)) throw new BundlebaseError('INVALID_ARGUMENT', 'Binary results are not supported; ask for text');
        this.portals.set(portal, { planned, values });
        return this.send(this.message('2'));
      }
      case 'D': {
        const kind = r.string(1);
        const name = r.cstring();
        if (kind === 'S') {
          const planned = this.statements.get(name);
          if (!planned) throw new BundlebaseError('NOT_FOUND', `Prepared statement '${name}' does not exist`);
          const parameterTypes = planned.prepared?.parameterTypes ?? [];
          await this.send(this.message('t', (w) => {
            w.addInt16(parameterTypes.length);
            for (const t of parameterTypes) w.addInt32(parameterOid(t?.name ?? 'VARCHAR'));
          }));
          return this.send(this.describeResult(planned));
        }
        const portal = this.portals.get(name);
        if (!portal) throw new BundlebaseError('NOT_FOUND', `Portal '${name}' does not exist`);
        return this.send(this.describeResult(portal.planned));
      }
      case 'E': {
        const name = r.cstring();
        const portal = this.portals.get(name);
        if (!portal) throw new BundlebaseError('NOT_FOUND', `Portal '${name}' does not exist`);
        return this.execute(portal.planned, portal.values);
      }
      case 'C': {
        const kind = r.string(1);
        const name = r.cstring();
        (kind === 'S' ? this.statements : this.portals).delete(name);
        return this.send(this.message('3'));
      }
      case 'H':
        return;
      default:
        throw new BundlebaseError('INVALID_ARGUMENT', `Unsupported message '${code}'`);
    }
  }
}

/** OID announced for a parameter, from DuckDB's inferred type name. */
function parameterOid(duckType: string): number {
  const oids: Record<string, number> = { BOOLEAN: 16, SMALLINT: 21, TINYINT: 21, INTEGER: 23, BIGINT: 20, HUGEINT: 1700, FLOAT: 700, DOUBLE: 701, DATE: 1082, TIMESTAMP: 1114, VARCHAR: 25 };
  return oids[duckType] ?? (duckType.startsWith('DECIMAL') ? 1700 : 25);
}

/** Refuses a connection beyond the limit with FATAL 53300 (what PostgreSQL says), then closes it. */
function refuse(socket: net.Socket, limit: number): void {
  const gateway = new PostgresConnection(socket, { authMode: 'none' });
  gateway.detach();
  gateway.sendError({ severity: 'FATAL', code: '53300', message: `Too many connections (the server allows ${limit})` });
  socket.end();
}

/** A PEM file's content; NOT_FOUND naming it when unreadable. */
async function readPem(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new BundlebaseError('NOT_FOUND', `TLS file ${file} cannot be read: ${(err as Error).message}`, { cause: err });
  }
}

/** PostgreSQL's own bound on a startup packet: anything larger is not a client. */
const MAX_STARTUP_BYTES = 10_000;

/** An ErrorResponse (severity FATAL) for a connection about to be closed. */
function fatal(writer: Writer, code: string, message: string): Buffer {
  return writer.addCString('SFATAL').addCString(`C${code}`).addCString(`M${message}`).addCString('').flush('E'.charCodeAt(0));
}

/**
 * Closes a connection that sends more than it may before authenticating: a startup packet
 * declaring a huge length would otherwise be buffered whole (0x7fffffff → 2 GB).
 */
function guardStartup(socket: net.Socket, limit: number): () => void {
  let received = 0;
  const check = (chunk: Buffer) => {
    if (received === 0 && chunk.length >= 4) {
      const declared = chunk.readInt32BE(0);
      if (declared < 8 || declared > MAX_STARTUP_BYTES) return void socket.destroy();
    }
    received += chunk.length;
    if (received > limit) socket.destroy();
  };
  socket.prependListener('data', check);
  return () => socket.off('data', check);
}

/** Serves `queries` over the PostgreSQL wire protocol until `close()`. */
export async function startPgServer(queries: BundleQueries, options: PgServerOptions = {}): Promise<RunningServer> {
  if (options.password === '') throw new BundlebaseError('INVALID_ARGUMENT', 'An empty password would let anyone in: give a real one, or none to serve without authentication');
  const limits = options.limits ?? resolveLimits();
  const throttle = new AuthThrottle();
  const sockets = new Set<net.Socket>();
  const tls = options.tls && { cert: await readPem(options.tls.cert), key: await readPem(options.tls.key) };
  const server = net.createServer((socket) => {
    socket.on('error', () => socket.destroy());
    // idle clients are closed (a running statement is bounded by the statement timeout instead)
    socket.setTimeout(limits.idleTimeoutMs, () => socket.destroy());
    if (sockets.size >= limits.maxConnections) {
      // refused at once, before anything is read: held sockets are what exhausts a server
      refuse(socket, limits.maxConnections);
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const peer = socket.remoteAddress ?? 'unknown';
    const unguard = guardStartup(socket, Math.max(MAX_STARTUP_BYTES * 4, 64 * 1024));
    const authTimer = setTimeout(() => socket.destroy(), limits.authTimeoutMs);
    authTimer.unref();
    const connection: PostgresConnection = new PostgresConnection(socket, {
      serverVersion: SERVER_VERSION,
      authMode: options.password ? 'md5Password' : 'none',
      tls,
      // with TLS configured, a password never crosses the network in the clear
      onStartup: (state) => {
        if (!tls || state.tlsInfo) return false;
        connection.sendError({ severity: 'FATAL', code: '28000', message: 'This server requires TLS: connect with sslmode=require' });
        connection.socket.end();
        return true;
      },
      validateCredentials: async (credentials) => {
        await throttle.wait(peer);
        const ok = credentials.authMode === 'md5Password' &&
          secretsEqual(credentials.hash, await hashMd5Password(credentials.user, options.password!, credentials.salt));
        if (ok) throttle.succeed(peer);
        else throttle.fail(peer);
        return ok;
      },
      onAuthenticated: () => {
        clearTimeout(authTimer);
        unguard();
        const w = connection.writer;
        const client = connection.detach(); // the TLS socket when the client asked for TLS
        for (const [key, value] of [['client_encoding', 'UTF8'], ['server_encoding', 'UTF8'], ['DateStyle', 'ISO, MDY'], ['integer_datetimes', 'on'], ['standard_conforming_strings', 'on'], ['TimeZone', 'UTC']]) {
          client.write(w.addCString(key!).addCString(value!).flush('S'.charCodeAt(0)));
        }
        new Session(client, queries, w, connection.reader, limits.maxMessageBytes, options.writes).start();
      },
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 5433, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
