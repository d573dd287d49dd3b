import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as arrow from 'apache-arrow';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { BundlebaseError } from '../errors.js';
import { BundleWrites } from './writes.js';
import type { ServerLimits } from './limits.js';
import type { EngineConnection } from '../engine/engine.js';
import { readFile } from 'node:fs/promises';
import type { RunningServer } from './pg.js';
import { AuthThrottle, secretsEqual } from './auth.js';
import { metadataTable } from './flightCatalog.js';
import { resolveLimits } from './limits.js';
import type { BundleQueries, Prepared } from './queries.js';

const PROTO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../proto/flight.proto');
const SQL_TYPE_PREFIX = 'type.googleapis.com/arrow.flight.protocol.sql.';

const root = new protobuf.Root().loadSync(PROTO, { keepCase: true });
const message = (name: string) => root.lookupType(`arrow.flight.protocol.${name}`);

/** A Flight SQL command: `google.protobuf.Any` holding an `arrow.flight.protocol.sql` message. */
function packCommand(name: string, value: object): Buffer {
  const inner = message(name).encode(message(name).create(value)).finish();
  return Buffer.from(message('AnyCommand').encode({ type_url: `${SQL_TYPE_PREFIX}${name}`, value: inner }).finish());
}

function unpackCommand(bytes: Uint8Array): { name: string; value: Record<string, unknown> } {
  // protobufjs decodes to a generic Message: the shape is flight.proto's Any
  const any = message('AnyCommand').decode(bytes) as unknown as { type_url: string; value: Uint8Array };
  const name = any.type_url.slice(any.type_url.lastIndexOf('.') + 1);
  if (!any.type_url.startsWith(SQL_TYPE_PREFIX) || !root.lookup(`arrow.flight.protocol.${name}`)) {
    throw new BundlebaseError('INVALID_ARGUMENT', `Unsupported Flight SQL command '${any.type_url}'`);
  }
  return { name, value: message(name).toObject(message(name).decode(any.value), { defaults: true }) };
}

/** IPC messages of a table: each one's flatbuffer header and body, as FlightData carries them. */
function ipcMessages(table: arrow.Table): { header: Uint8Array; body: Uint8Array; framed: Uint8Array }[] {
  const bytes = arrow.tableToIPC(table, 'stream');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: { header: Uint8Array; body: Uint8Array; framed: Uint8Array }[] = [];
  let at = 0;
  while (at + 4 <= bytes.length) {
    let length = view.getInt32(at, true);
    let start = at + 4;
    if (length === -1) {
      length = view.getInt32(at + 4, true);
      start = at + 8;
    }
    if (length === 0) break; // end of stream
    const header = bytes.subarray(start, start + length);
    const bodyLength = Number(arrow.Message.decode(header).bodyLength);
    out.push({ header, body: bytes.subarray(start + length, start + length + bodyLength), framed: bytes.subarray(at, start + length) });
    at = start + length + bodyLength;
  }
  return out;
}

/** The schema as Flight carries it in FlightInfo / SchemaResult: an encapsulated IPC message. */
function schemaBytes(schema: arrow.Schema): Buffer {
  return Buffer.from(ipcMessages(new arrow.Table(schema))[0]!.framed);
}

/** gRPC status for an error: what a Flight SQL client expects to see. */
function status(err: unknown): Partial<grpc.StatusObject> {
  const details = (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
  const code = err instanceof BundlebaseError && (err.code === 'READ_ONLY' || err.code === 'PERMISSION_DENIED')
    ? grpc.status.PERMISSION_DENIED
    : /Permission Error/.test(details)
      ? grpc.status.PERMISSION_DENIED
      : err instanceof BundlebaseError && ['SQL_ERROR', 'INVALID_ARGUMENT', 'NOT_FOUND'].includes(err.code)
        ? grpc.status.INVALID_ARGUMENT
        : grpc.status.INTERNAL;
  return { code, details };
}

export interface FlightServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Required password (Basic auth in Handshake, then a bearer token; any user name). */
  password?: string;
  /** PEM certificate and key file paths: serve TLS. */
  tls?: { cert: string; key: string };
  /** Resource limits (see limits.ts); the defaults when absent. */
  limits?: ServerLimits;
  /** serve --writable: clients may run the statement language. */
  writes?: BundleWrites;
}

/** Tickets of statement results kept for the DoGet that follows their GetFlightInfo. */
const RESULT_TICKET = 'bundlebase-result:';
const MAX_KEPT_RESULTS = 100;

/** Serves `queries` over Arrow Flight SQL (gRPC) until `close()`. */
export async function startFlightServer(queries: BundleQueries, options: FlightServerOptions = {}): Promise<RunningServer> {
  const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, enums: String, defaults: true });
  // proto-loader types the package as a generic tree: this is the path flight.proto declares
  const service = (grpc.loadPackageDefinition(definition) as unknown as { arrow: { flight: { protocol: { FlightService: { service: grpc.ServiceDefinition } } } } })
    .arrow.flight.protocol.FlightService.service;
  const limits = options.limits ?? resolveLimits();
  if (options.password === '') throw new BundlebaseError('INVALID_ARGUMENT', 'An empty password would let anyone in: give a real one, or none to serve without authentication');
  /** Bearer token → when it expires (ms since epoch); insertion order is age order. */
  const tokens = new Map<string, number>();
  /** Prepared statements by handle: their SQL (binding happens when they are executed); LRU order. */
  const statements = new Map<string, string>();
  const throttle = new AuthThrottle();
  /** Results of statements run by GetFlightInfo, until their DoGet takes them. */
  const results = new Map<string, arrow.Table>();
  /** Connections of calls in flight: one each, so calls never share a DuckDB connection's single result. */
  const open = new Set<EngineConnection>();

  /** Runs `work` on a connection of its own, closed afterwards. */
  const withConnection = async <T>(work: (c: EngineConnection) => Promise<T>): Promise<T> => {
    const connection = await queries.connect();
    open.add(connection);
    try {
      return await work(connection);
    } finally {
      open.delete(connection);
      connection.close();
    }
  };

  const issueToken = (): string => {
    const token = randomUUID();
    tokens.set(token, Date.now() + limits.tokenTtlMs);
    while (tokens.size > limits.maxTokens) tokens.delete(tokens.keys().next().value!);
    return token;
  };
  const tokenValid = (token: string): boolean => {
    const expires = tokens.get(token);
    if (expires === undefined) return false;
    if (expires > Date.now()) return true;
    tokens.delete(token);
    return false;
  };
  const rememberStatement = (handle: string, sql: string) => {
    statements.set(handle, sql);
    while (statements.size > limits.maxPreparedStatements) statements.delete(statements.keys().next().value!);
  };
  const statementSql = (handle: string): string | undefined => {
    const sql = statements.get(handle);
    if (sql !== undefined) {
      statements.delete(handle); // most recently used goes last
      statements.set(handle, sql);
    }
    return sql;
  };

  const unauthenticated = () => Object.assign(new Error('Authentication required: wrong or missing credentials'), { code: grpc.status.UNAUTHENTICATED });
  const basicAuthOk = (header: string) => {
    const [user, ...rest] = Buffer.from(header.slice('Basic '.length), 'base64').toString().split(':');
    return user !== undefined && secretsEqual(rest.join(':'), options.password!);
  };
  /** Checks basic credentials, slowing down a peer that keeps failing. */
  const checkBasic = async (header: string, peer: string): Promise<boolean> => {
    await throttle.wait(peer);
    const ok = header.startsWith('Basic ') && basicAuthOk(header);
    if (ok) throttle.succeed(peer);
    else throttle.fail(peer);
    return ok;
  };
  /** Throws UNAUTHENTICATED unless the call carries a valid bearer token or basic credentials. */
  const authorize = async (call: { metadata: grpc.Metadata; getPeer(): string }) => {
    if (!options.password) return;
    const header = String(call.metadata.get('authorization')[0] ?? '');
    if (header.startsWith('Bearer ') && tokenValid(header.slice('Bearer '.length))) return;
    if (!(await checkBasic(header, peerAddress(call.getPeer())))) throw unauthenticated();
  };
  const fail = (err: unknown) => ((err as { code?: unknown }).code === grpc.status.UNAUTHENTICATED ? err : status(err)) as grpc.ServiceError;

  /** What a command (from a descriptor or a ticket) returns: its schema and how to stream it. */
  const plan = async (connection: EngineConnection, cmd: Uint8Array): Promise<{ schema: arrow.Schema; prepared?: Prepared; tables?: arrow.Table }> => {
    const { name, value } = unpackCommand(cmd);
    if (name === 'CommandPreparedStatementQuery') {
      const handle = Buffer.from(value.prepared_statement_handle as Uint8Array).toString();
      const sql = statementSql(handle);
      if (sql === undefined) throw new BundlebaseError('NOT_FOUND', `Prepared statement ${handle} does not exist (closed, or evicted after ${limits.maxPreparedStatements} newer ones)`);
      const prepared = await queries.prepare(connection, sql);
      return { schema: prepared.schema, prepared };
    }
    if (name === 'CommandStatementQuery' || name === 'TicketStatementQuery') {
      const sql = name === 'CommandStatementQuery' ? String(value.query) : Buffer.from(value.statement_handle as Uint8Array).toString();
      const result = results.get(sql);
      if (result) {
        results.delete(sql);
        return { schema: result.schema, tables: result };
      }
      const prepared = await queries.prepare(connection, sql);
      return { schema: prepared.schema, prepared };
    }
    const tables = metadataTable(name, value, queries.tables, schemaBytes);
    if (tables) return { schema: tables.schema, tables };
    throw new BundlebaseError('INVALID_ARGUMENT', `Flight SQL command ${name} is not supported`);
  };

  const handlers: grpc.UntypedServiceImplementation = {
    Handshake: async (call: grpc.ServerDuplexStream<unknown, unknown>) => {
      try {
        const header = String(call.metadata.get('authorization')[0] ?? '');
        if (options.password && !(await checkBasic(header, peerAddress(call.getPeer())))) throw unauthenticated();
        const token = issueToken();
        const metadata = new grpc.Metadata();
        metadata.set('authorization', `Bearer ${token}`);
        call.sendMetadata(metadata);
        call.on('data', () => undefined);
        call.on('end', () => {
          call.write({ protocol_version: '0', payload: Buffer.from(token) });
          call.end();
        });
      } catch (err) {
        call.emit('error', fail(err));
      }
    },
    GetFlightInfo: async (call: grpc.ServerUnaryCall<{ cmd: Buffer; type: string }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      try {
        await authorize(call);
        const descriptor = call.request;
        const command = unpackCommand(descriptor.cmd);
        const text = command.name === 'CommandStatementQuery'
          ? String(command.value.query)
          : command.name === 'CommandPreparedStatementQuery'
            ? statementSql(Buffer.from(command.value.prepared_statement_handle as Uint8Array).toString())
            : undefined;
        if (options.writes && text !== undefined && BundleWrites.statementsOf(text)) {
          // statements of the language run here, once; the DoGet that follows fetches their result
          const header = String(call.metadata.get('authorization')[0] ?? '');
          const session = header.startsWith('Bearer ') ? header : undefined;
          const result = await options.writes.run(session ?? descriptor, text).finally(() => (session ? undefined : options.writes?.end(descriptor)));
          const handle = `${RESULT_TICKET}${randomUUID()}`;
          results.set(handle, result);
          if (results.size > MAX_KEPT_RESULTS) results.delete(results.keys().next().value!);
          const ticket = packCommand('TicketStatementQuery', { statement_handle: Buffer.from(handle) });
          callback(null, { schema: schemaBytes(result.schema), flight_descriptor: descriptor, endpoint: [{ ticket: { ticket }, location: [] }], total_records: String(result.numRows), total_bytes: '-1', ordered: false });
          return;
        }
        const { schema } = await withConnection((c) => plan(c, descriptor.cmd));
        const { name, value } = unpackCommand(descriptor.cmd);
        const sql = name === 'CommandStatementQuery'
          ? String(value.query)
          : name === 'CommandPreparedStatementQuery'
            ? statementSql(Buffer.from(value.prepared_statement_handle as Uint8Array).toString())
            : undefined;
        const ticket = sql !== undefined ? packCommand('TicketStatementQuery', { statement_handle: Buffer.from(sql) }) : descriptor.cmd;
        callback(null, { schema: schemaBytes(schema), flight_descriptor: descriptor, endpoint: [{ ticket: { ticket }, location: [] }], total_records: '-1', total_bytes: '-1', ordered: false });
      } catch (err) {
        callback(fail(err));
      }
    },
    GetSchema: async (call: grpc.ServerUnaryCall<{ cmd: Buffer }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      try {
        await authorize(call);
        callback(null, { schema: schemaBytes((await withConnection((c) => plan(c, call.request.cmd))).schema) });
      } catch (err) {
        callback(fail(err));
      }
    },
    DoGet: async (call: grpc.ServerWritableStream<{ ticket: Buffer }, unknown>) => {
      const cancelled = new AbortController();
      const wake = new Set<() => void>();
      call.on('cancelled', () => {
        cancelled.abort();
        for (const w of wake) w(); // a send waiting for 'drain' that will never come
      });
      const send = async (data: object) => {
        if (call.write(data) || cancelled.signal.aborted) return;
        await new Promise<void>((resolve) => {
          const done = () => {
            wake.delete(done);
            resolve();
          };
          wake.add(done);
          call.once('drain', done);
        });
      };
      try {
        await authorize(call);
        await withConnection(async (connection) => {
          // the client went away: stop the query now rather than at the next batch
          cancelled.signal.addEventListener('abort', () => connection.interrupt(), { once: true });
          const { schema, prepared, tables } = await plan(connection, call.request.ticket);
          const [schemaMessage] = ipcMessages(new arrow.Table(schema));
          await send({ data_header: Buffer.from(schemaMessage!.header), data_body: Buffer.alloc(0) });
          const batches: AsyncIterable<arrow.RecordBatch[]> = prepared
            ? queries.stream(connection, prepared, [], { signal: cancelled.signal })
            : (async function* () {
                yield tables!.batches;
              })();
          for await (const group of batches) {
            for (const batch of group) {
              if (cancelled.signal.aborted) return; // leaving the loop stops the query
              for (const m of ipcMessages(new arrow.Table([batch])).slice(1)) {
                await send({ data_header: Buffer.from(m.header), data_body: Buffer.from(m.body) });
              }
            }
          }
        });
        if (!cancelled.signal.aborted) call.end();
      } catch (err) {
        if (!cancelled.signal.aborted) call.emit('error', fail(err)); // how grpc-js ends a server stream with a status
      }
    },
    ListFlights: (call: grpc.ServerWritableStream<unknown, unknown>) => call.end(),
    ListActions: (call: grpc.ServerWritableStream<unknown, unknown>) => {
      call.write({ type: 'CreatePreparedStatement', description: 'Prepare a read-only query' });
      call.write({ type: 'ClosePreparedStatement', description: 'Close a prepared query' });
      call.end();
    },
    // Flight SQL's update (executeUpdate): statements of the language on a writable server
    DoPut: (call: grpc.ServerDuplexStream<{ flight_descriptor?: { cmd?: Buffer } }, unknown>) => {
      let started = false;
      call.on('data', (data: { flight_descriptor?: { cmd?: Buffer } }) => {
        if (started) return;
        started = true;
        void (async () => {
          try {
            await authorize(call);
            if (!options.writes) throw new BundlebaseError('READ_ONLY', 'The bundle is read-only (serve --writable lets clients change it)');
            const { name, value } = unpackCommand(data.flight_descriptor?.cmd ?? Buffer.alloc(0));
            const sql = String(value.query);
            if (name !== 'CommandStatementUpdate' || !BundleWrites.statementsOf(sql)) throw new BundlebaseError('INVALID_ARGUMENT', 'DoPut takes statements of the bundle statement language (CommandStatementUpdate)');
            const header = String(call.metadata.get('authorization')[0] ?? '');
            const session = header.startsWith('Bearer ') ? header : undefined;
            const result = await options.writes.run(session ?? call, sql).finally(() => (session ? undefined : options.writes?.end(call)));
            const counted = message('DoPutUpdateResult');
            call.write({ app_metadata: Buffer.from(counted.encode(counted.create({ record_count: result.numRows })).finish()) });
            call.end();
          } catch (err) {
            call.emit('error', fail(err));
          }
        })();
      });
    },
    DoAction: async (call: grpc.ServerWritableStream<{ type: string; body: Buffer }, unknown>) => {
      try {
        await authorize(call);
        const { type, body } = call.request;
        if (type === 'CreatePreparedStatement') {
          const sql = String(unpackCommand(body).value.query);
          // statements of the language run when executed (GetFlightInfo); a query binds now: errors surface at prepare
          const prepared = options.writes && BundleWrites.statementsOf(sql)
            ? { schema: BundleWrites.RESULT_SCHEMA, parameterTypes: [] }
            : await withConnection((c) => queries.prepare(c, sql));
          const handle = randomUUID();
          rememberStatement(handle, sql);
          const parameters = new arrow.Schema(prepared.parameterTypes.map((t, i) => new arrow.Field(`$${i + 1}`, t?.arrow ?? new arrow.Utf8(), true)));
          const result = packCommand('ActionCreatePreparedStatementResult', {
            prepared_statement_handle: Buffer.from(handle),
            dataset_schema: schemaBytes(prepared.schema),
            parameter_schema: schemaBytes(parameters),
          });
          call.write({ body: result });
        } else if (type === 'ClosePreparedStatement') {
          statements.delete(Buffer.from(unpackCommand(body).value.prepared_statement_handle as Uint8Array).toString());
        } else {
          throw new BundlebaseError('INVALID_ARGUMENT', `Action '${type}' is not supported`);
        }
        call.end();
      } catch (err) {
        call.emit('error', fail(err)); // how grpc-js ends a server stream with a status
      }
    },
  };

  const server = new grpc.Server({
    'grpc.max_receive_message_length': limits.maxMessageBytes,
    'grpc.max_connection_idle_ms': limits.idleTimeoutMs,
    'grpc.max_concurrent_streams': limits.maxConcurrentQueries * 4,
  });
  server.addService(service, handlers);
  const credentials = options.tls
    ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: await readFile(options.tls.cert), private_key: await readFile(options.tls.key) }], false)
    : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${options.host ?? '127.0.0.1'}:${options.port ?? 50051}`, credentials, (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  return {
    port,
    close: async () => {
      // let running streams finish for a moment, then cut them
      const graceful = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, limits.shutdownGraceMs)));
      await Promise.race([graceful, deadline]);
      clearTimeout(timer);
      server.forceShutdown();
      for (const connection of open) connection.interrupt();
    },
  };
}

/** The address part of a gRPC peer (`ipv4:127.0.0.1:5000` → `127.0.0.1`): failures are counted per host. */
function peerAddress(peer: string): string {
  return peer.replace(/^ipv[46]:/, '').replace(/:\d+$/, '');
}
