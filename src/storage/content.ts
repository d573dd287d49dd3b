import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errorMessage, fsErrorCode, ioError, notFound } from '../errors.js';

/**
 * Data stored inside a bundle, content-addressed as upstream bundlebase lays it out: the SHA-256
 * of the file's bytes names it, `<2 hex>/<next 14 hex>.block.data.<ext>` under the bundle's
 * directory (`ab/cdef0123456789.block.data.parquet`). Content never changes under its name, so a
 * file stored twice is kept once and a copy of the directory (cp -r, push, tar) carries it as is.
 */
export interface StoredFile {
  /** Where it is, relative to the store's directory, `/`-separated. */
  path: string;
  /** SHA-256 of its bytes, 64 hex. */
  hash: string;
  bytes: number;
}

/** Temporary files in a store start like every writer's leftovers (push skips them). */
const STAGING_PREFIX = '.tmp-';

/** A pass-through stream hashing what flows through it; `onBytes` is told the running total. */
export function hashingStream(onBytes?: (total: number) => void): { stream: Transform; digest(): string; bytes(): number } {
  const hash = createHash('sha256');
  let total = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      total += chunk.length;
      onBytes?.(total);
      done(null, chunk);
    },
  });
  return { stream, digest: () => hash.digest('hex'), bytes: () => total };
}

/** The SHA-256 of a file, read as a stream (constant memory); NOT_FOUND when it is missing. */
export async function hashFile(file: string): Promise<string> {
  const tap = hashingStream();
  try {
    await pipeline(createReadStream(file), tap.stream, async (source: AsyncIterable<unknown>) => {
      for await (const _ of source); // drain: only the hash is wanted
    });
  } catch (err) {
    if (fsErrorCode(err) === 'ENOENT') throw notFound(`Stored file '${file}' does not exist`, err);
    throw ioError(`Cannot read stored file '${file}': ${errorMessage(err)}`, err);
  }
  return tap.digest();
}

/** A fresh file name in the store's directory for a writer (DuckDB) to fill before `storeWritten`. */
export function stagingFile(dir: string, ext: string): string {
  return path.join(dir, `${STAGING_PREFIX}${randomUUID()}.${ext}`);
}

/**
 * Streams `source` into the store at `dir` as a `.<ext>` file, hashing while copying (constant
 * memory), and returns where it landed. `onBytes` is told the bytes copied so far.
 */
export async function storeStream(dir: string, source: Readable, ext: string, onBytes?: (total: number) => void): Promise<StoredFile> {
  await makeDir(dir);
  const tmp = stagingFile(dir, ext);
  const tap = hashingStream(onBytes);
  try {
    await pipeline(source, tap.stream, createWriteStream(tmp, { flags: 'wx' }));
    return await place(dir, tmp, tap.digest(), ext, tap.bytes());
  } catch (err) {
    await rm(tmp, { force: true });
    if (err instanceof Error && err.name === 'BundlebaseError') throw err;
    throw ioError(`Cannot store data in ${dir}: ${errorMessage(err)}`, err);
  }
}

/** Moves `file` (a `stagingFile` of `dir`, written whole) to its content address in `dir`. */
export async function storeWritten(dir: string, file: string, ext: string): Promise<StoredFile> {
  try {
    const { size } = await stat(file);
    return await place(dir, file, await hashFile(file), ext, size);
  } finally {
    await rm(file, { force: true });
  }
}

/** Where content with SHA-256 `hash` is stored, relative to its store. */
function storedPath(hash: string, ext: string): string {
  return `${hash.slice(0, 2)}/${hash.slice(2, 16)}.block.data.${ext}`;
}

async function place(dir: string, tmp: string, hash: string, ext: string, bytes: number): Promise<StoredFile> {
  const relative = storedPath(hash, ext);
  const target = path.join(dir, ...relative.split('/'));
  await mkdir(path.dirname(target), { recursive: true });
  // the same content stored before: keep the one there (readers may have it open)
  if (await exists(target)) await rm(tmp, { force: true });
  else await rename(tmp, target);
  return { path: relative, hash, bytes };
}

async function makeDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true }).catch((err: unknown) => {
    throw ioError(`Cannot create ${dir} to store data in: ${errorMessage(err)}`, err);
  });
}

const exists = (file: string) => stat(file).then(() => true, () => false);
