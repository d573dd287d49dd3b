// A Flight client that starts streaming a query and then just holds on: it prints "streaming" once
// the first FlightData message has arrived (so a test kills it mid-stream, not before the query
// started), or "FAILED <message>" when the server refuses the query.
// Usage: node flight-reader.mjs <port> <password> <sql>
import { basicAuth, flightService, statementCommand } from './flight-raw.mjs';

const [port, password, sql] = process.argv.slice(2);
const client = flightService(port);
const metadata = basicAuth(password);
const cmd = statementCommand(sql);

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
