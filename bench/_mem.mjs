import { open } from '../dist/index.js';
const [bundleDir] = process.argv.slice(2);
const b = await open(bundleDir);
await b.schema();
const before = process.memoryUsage.rss();
let rows = 0, n = 0, maxRss = 0, maxExt = 0, maxHeap = 0;
for await (const batch of b.stream()) {
  rows += batch.numRows;
  if (process.env.GC_EVERY && ++n % Number(process.env.GC_EVERY) === 0) globalThis.gc();
  const m = process.memoryUsage();
  maxRss = Math.max(maxRss, m.rss); maxExt = Math.max(maxExt, m.arrayBuffers); maxHeap = Math.max(maxHeap, m.heapUsed);
}
console.log(JSON.stringify({ rows, before: before >> 20, maxRss: maxRss >> 20, peak: (process.resourceUsage().maxRSS >> 10), maxArrayBuffers: maxExt >> 20, maxHeap: maxHeap >> 20 }));
