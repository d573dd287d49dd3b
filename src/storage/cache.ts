import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errorMessage, fsErrorCode, invalidArgument, ioError } from '../errors.js';
import { hashingStream } from './content.js';

/** Where downloaded and unpacked content is kept: `$BUNDLEBASE_CACHE`, else the user's cache directory. */
export function cacheDir(): string {
  if (process.env.BUNDLEBASE_CACHE) return path.resolve(process.env.BUNDLEBASE_CACHE);
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'bundlebase');
}

/** The directory of downloaded files (DuckDB reads them there: access.ts allows it). */
function contentDir(): string {
  return path.join(cacheDir(), 'content');
}

/** What to fetch into the cache: a stable name for the content, and how to stream it. */
export interface CacheRequest {
  /**
   * The content's name: its SHA-256 (64 hex) when known, which is then checked after download;
   * else any stable key (e.g. url + ETag), hashed into a file name.
   */
  key: string;
  /** What the file is, for messages (its url). */
  what: string;
  /** The content's bytes, streamed. */
  open: () => Promise<Readable>;
}

const SHA256 = /^[0-9a-f]{64}$/;

/** Downloads in progress in this process, by file: concurrent readers wait for the one download. */
const inFlight = new Map<string, Promise<string>>();

/**
 * The local file holding the content `request` names, downloaded on first use: streamed to a
 * temporary file in constant memory, checked against its SHA-256 when the key is one, and renamed
 * into place (readers see it whole or not at all; content never changes, so a file once there is
 * reused). Concurrent readers share one download: in this process by waiting for the same
 * promise, across processes by a lock file the downloader holds (the others wait for the file). Afterwards the
 * cache is kept under `BUNDLEBASE_CACHE_MAX`, least recently used files first.
 */
export function cached(request: CacheRequest): Promise<string> {
  const file = cacheFile(request.key);
  let pending = inFlight.get(file);
  if (!pending) {
    pending = fetchOnce(file, request).finally(() => inFlight.delete(file));
    inFlight.set(file, pending);
  }
  return pending;
}

function cacheFile(key: string): string {
  const name = SHA256.test(key) ? key : createHash('sha256').update(key).digest('hex');
  return path.join(contentDir(), name.slice(0, 2), name);
}

/** A download refreshes its lock this often; a lock untouched for STALE_LOCK_MS is a dead downloader's. */
const LOCK_REFRESH_MS = 2_000;
const STALE_LOCK_MS = 30_000;
const LOCK_POLL_MS = 100;

async function fetchOnce(file: string, request: CacheRequest): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  const lock = `${file}.lock`;
  for (;;) {
    if (await touch(file)) return file;
    const held = await open(lock, 'wx').catch((err: unknown) => {
      if (fsErrorCode(err) === 'EEXIST') return undefined;
      throw ioError(`Cannot use the cache ${contentDir()}: ${errorMessage(err)}`, err);
    });
    if (!held) {
      await waitForOther(lock, file);
      continue;
    }
    try {
      await download(file, lock, request);
    } finally {
      await held.close();
      await rm(lock, { force: true });
    }
    await evictBeyondLimit(file);
    return file;
  }
}

/** Waits while another process downloads (its lock is there and fresh); a stale lock is removed. */
async function waitForOther(lock: string, file: string): Promise<void> {
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
    if (await exists(file)) return;
    const held = await stat(lock).catch(() => undefined);
    if (!held) return;
    if (Date.now() - held.mtimeMs > STALE_LOCK_MS) {
      await rm(lock, { force: true });
      return;
    }
  }
}

const exists = (file: string) => stat(file).then(() => true, () => false);

async function download(file: string, lock: string, request: CacheRequest): Promise<void> {
  const tmp = path.join(path.dirname(file), `.tmp-${randomUUID()}`);
  let refreshed = Date.now();
  try {
    // show the waiting processes that this download is alive
    const tap = hashingStream(() => {
      if (Date.now() - refreshed > LOCK_REFRESH_MS) {
        refreshed = Date.now();
        const now = new Date();
        void utimes(lock, now, now).catch(() => undefined);
      }
    });
    await pipeline(await request.open(), tap.stream, createWriteStream(tmp, { flags: 'wx' }));
    const digest = tap.digest();
    if (SHA256.test(request.key) && digest !== request.key) {
      throw ioError(`Downloaded ${request.what} does not match its recorded hash (expected ${request.key}, got ${digest}): the stored file is damaged`);
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    if (err instanceof Error && err.name === 'BundlebaseError') throw err;
    throw ioError(`Cannot download ${request.what} into the cache ${contentDir()}: ${errorMessage(err)}`, err);
  }
}

/** Marks a cached file as just used (its mtime orders eviction); false when it is not there. */
async function touch(file: string): Promise<boolean> {
  const now = new Date();
  return utimes(file, now, now).then(
    () => true,
    (err: unknown) => {
      if (fsErrorCode(err) === 'ENOENT') return false;
      throw ioError(`Cannot use the cache file ${file}: ${errorMessage(err)}`, err);
    },
  );
}

/** `BUNDLEBASE_CACHE_MAX` in bytes (`500M`, `20G`, plain bytes), or undefined when unlimited. */
function cacheLimit(): number | undefined {
  const text = process.env.BUNDLEBASE_CACHE_MAX;
  if (!text) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$/i.exec(text);
  if (!m) throw invalidArgument(`BUNDLEBASE_CACHE_MAX must be a size such as 500M or 20G; got '${text}'`);
  return Math.floor(Number(m[1]) * 1024 ** 'bkmgt'.indexOf((m[2] || 'b').toLowerCase()));
}

/**
 * Removes least recently used files until the cache fits its limit, never `keep` (just fetched:
 * its reader is about to open it). A file removed while another process reads it stays readable
 * to that reader (POSIX unlink), and is downloaded again when next needed.
 */
async function evictBeyondLimit(keep: string): Promise<void> {
  const limit = cacheLimit();
  if (limit === undefined) return;
  const files = await cachedFiles();
  let total = files.reduce((sum, f) => sum + f.size, 0);
  for (const f of files.sort((a, b) => a.used - b.used)) {
    if (total <= limit) break;
    if (f.file === keep) continue;
    await rm(f.file, { force: true });
    total -= f.size;
  }
}

async function cachedFiles(): Promise<{ file: string; size: number; used: number }[]> {
  const root = contentDir();
  const shards = await readdir(root).catch(() => [] as string[]);
  const found: { file: string; size: number; used: number }[] = [];
  for (const shard of shards) {
    for (const name of await readdir(path.join(root, shard)).catch(() => [] as string[])) {
      if (name.startsWith('.tmp-') || name.endsWith('.lock')) continue;
      const file = path.join(root, shard, name);
      const s = await stat(file).catch(() => undefined);
      if (s?.isFile()) found.push({ file, size: s.size, used: s.mtimeMs });
    }
  }
  return found;
}

/**
 * The SHA-256 of a local file, remembered in the cache while the file stays as it was (same
 * size, modification and change times, inode), so that every process reading a large stored
 * file or archive does not read it whole first. Any write to the file changes its change time,
 * which no one can set back, so a damaged file is hashed again. `hash` computes it when needed.
 */
export async function rememberedHash(file: string, hash: (file: string) => Promise<string>): Promise<string> {
  const found = await stat(file, { bigint: true }).catch(() => undefined);
  if (!found) return hash(file); // its own error names what is wrong
  const stamp = `${found.size}-${found.mtimeNs}-${found.ctimeNs}-${found.dev}-${found.ino}`;
  const memo = path.join(cacheDir(), 'hashes', `${createHash('sha256').update(path.resolve(file)).digest('hex')}.json`);
  const known = await readFile(memo, 'utf8').then((t) => JSON.parse(t) as { stamp?: unknown; hash?: unknown }, () => undefined);
  if (known?.stamp === stamp && typeof known.hash === 'string' && /^[0-9a-f]{64}$/.test(known.hash)) return known.hash;
  const digest = await hash(file);
  // best effort: a cache that cannot be written only means hashing again next time
  await mkdir(path.dirname(memo), { recursive: true })
    .then(async () => {
      const tmp = `${memo}.tmp-${randomUUID()}`;
      await writeFile(tmp, JSON.stringify({ stamp, hash: digest }));
      await rename(tmp, memo).catch(() => rm(tmp, { force: true }));
    })
    .catch(() => undefined);
  return digest;
}
