// A raw gRPC Flight client for tests that must see the server's own status and details (the
// Flight SQL client library hides them) or hold a stream open.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

const proto = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../proto/flight.proto');
const definition = protoLoader.loadSync(proto, { keepCase: true, longs: String, defaults: true });
const { FlightService } = grpc.loadPackageDefinition(definition).arrow.flight.protocol;
const root = new protobuf.Root().loadSync(proto, { keepCase: true });

/** A FlightService client on 127.0.0.1:port (plaintext unless credentials say otherwise). */
export function flightService(port, credentials = grpc.credentials.createInsecure(), options = {}) {
  return new FlightService(`127.0.0.1:${port}`, credentials, options);
}

/** The FlightDescriptor command of a Flight SQL statement query. */
export function statementCommand(sql) {
  const query = root.lookupType('arrow.flight.protocol.CommandStatementQuery');
  return Buffer.from(root.lookupType('arrow.flight.protocol.AnyCommand').encode({
    type_url: 'type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery',
    value: query.encode(query.create({ query: sql })).finish(),
  }).finish());
}

/** Metadata with HTTP basic authentication. */
export function basicAuth(password, user = 'x') {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`);
  return metadata;
}

/** The FlightDescriptor command of any Flight SQL message, e.g. ('CommandGetSqlInfo', { info: [0] }). */
export function sqlCommand(name, value = {}) {
  const type = root.lookupType(`arrow.flight.protocol.${name}`);
  return Buffer.from(root.lookupType('arrow.flight.protocol.AnyCommand').encode({
    type_url: `type.googleapis.com/arrow.flight.protocol.sql.${name}`,
    value: type.encode(type.create(value)).finish(),
  }).finish());
}

/**
 * Runs a command as a Flight SQL client does (GetFlightInfo, then DoGet on its ticket) and
 * returns the result's Arrow IPC stream bytes.
 */
export async function fetchCommand(port, password, cmd) {
  const client = flightService(port);
  try {
    const info = await new Promise((resolve, reject) =>
      client.GetFlightInfo({ type: 'CMD', cmd }, basicAuth(password), (err, value) => (err ? reject(err) : resolve(value))));
    const chunks = [];
    await new Promise((resolve, reject) => {
      const stream = client.DoGet(info.endpoint[0].ticket, basicAuth(password));
      stream.on('data', (data) => chunks.push(framed(data.data_header), data.data_body));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    return Buffer.concat(chunks);
  } finally {
    client.close();
  }
}

/**
 * Sends statements as Flight SQL's executeUpdate does (DoPut of a CommandStatementUpdate);
 * resolves to the DoPutUpdateResult's record_count, rejects with the server's gRPC status.
 */
export async function updateCommand(port, password, sql) {
  const client = flightService(port);
  try {
    return await new Promise((resolve, reject) => {
      const stream = client.DoPut(basicAuth(password));
      let count;
      stream.on('data', (result) => {
        const decoded = root.lookupType('arrow.flight.protocol.DoPutUpdateResult').decode(result.app_metadata);
        count = Number(decoded.record_count);
      });
      stream.on('end', () => resolve(count));
      stream.on('error', reject);
      stream.write({ flight_descriptor: { type: 'CMD', cmd: sqlCommand('CommandStatementUpdate', { query: sql }) } });
      stream.end();
    });
  } finally {
    client.close();
  }
}

/** An IPC message header with its continuation marker, length and padding to 8 bytes. */
function framed(header) {
  const padded = Math.ceil(header.length / 8) * 8;
  const out = Buffer.alloc(8 + padded);
  out.writeInt32LE(-1, 0);
  out.writeInt32LE(padded, 4);
  Buffer.from(header).copy(out, 8);
  return out;
}
