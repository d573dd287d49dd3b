import { open } from './dist/index.js';
const b = await open(process.argv[2]);
let n = 0, rows = 0;
const mb = (x) => (x / 1e6).toFixed(0);
for await (const batch of b.stream()) {
  rows += batch.numRows;
  if (++n % 600 === 0) { const m = process.memoryUsage(); console.log(`batch ${n} rss ${mb(m.rss)} heap ${mb(m.heapUsed)} external ${mb(m.external)} ab ${mb(m.arrayBuffers)}`); }
}
console.log('rows', rows, 'maxRSS', (process.resourceUsage().maxRSS / 1024).toFixed(0), 'MB');
