// A Flight client that starts streaming a query and then just holds on: it prints "streaming" once
// the first FlightData message has arrived (so a test kills it mid-stream, not before the query
// started), or "FAILED <message>" when the server refuses the query.
// Usage: node flight-reader.mjs <port> <password> <sql>
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

const [port, password, sql] = process.argv.slice(2);
const proto = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../proto/flight.proto');
const definition = protoLoader.loadSync(proto, { keepCase: true, longs: String, defaults: true });
const { FlightService } = grpc.loadPackageDefinition(definition).arrow.flight.protocol;
const client = new FlightService(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
const root = new protobuf.Root().loadSync(proto, { keepCase: true });
const query = root.lookupType('arrow.flight.protocol.CommandStatementQuery');
const cmd = root.lookupType('arrow.flight.protocol.AnyCommand').encode({
  type_url: 'type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery',
  value: query.encode(query.create({ query: sql })).finish(),
}).finish();
const metadata = new grpc.Metadata();
metadata.set('authorization', `Basic ${Buffer.from(`x:${password}`).toString('base64')}`);

client.GetFlightInfo({ type: 'CMD', cmd: Buffer.from(cmd) }, metadata, (err, info) => {
  if (err) {
    console.log(`FAILED ${err.details ?? err.message}`);
    process.exit(1);
  }
  const call = client.DoGet(info.endpoint[0].ticket, metadata);
  let first = true;
  call.on('data', () => {
    if (first) console.log('streaming');
    first = false;
    call.pause(); // read no further: the server's writes back up until this process is killed
  });
  call.on('error', (e) => {
    console.log(`FAILED ${e.details ?? e.message}`);
    process.exit(1);
  });
});
