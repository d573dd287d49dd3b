import { open } from './dist/index.js';
const b = await open(process.argv[2]);
let rows = 0, waited = 0n;
const it = b.stream()[Symbol.asyncIterator]();
const t0 = process.hrtime.bigint();
for (;;) { const a = process.hrtime.bigint(); const r = await it.next(); waited += process.hrtime.bigint() - a; if (r.done) break; rows += r.value.numRows; }
const total = process.hrtime.bigint() - t0;
console.log('total', Number(total)/1e6, 'ms; waiting in next()', Number(waited)/1e6, 'ms');
