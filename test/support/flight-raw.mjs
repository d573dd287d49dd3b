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
