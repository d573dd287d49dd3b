// Fetches a url into the content cache (a separate process, for the cross-process single-download test); prints the cached file.
import { Readable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import { cached } from '../../src/storage/cache.js';

const [url] = process.argv.slice(2);
const file = await cached({
  key: `${url}\nv1`,
  what: url!,
  open: async () => Readable.fromWeb((await fetch(url!)).body as ReadableStream),
});
process.stdout.write(`${file}\n`);
