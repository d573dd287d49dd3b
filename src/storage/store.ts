import { randomUUID } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { copyFile, link, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { BundlebaseError, errorMessage, fsErrorCode, invalidArgument, ioError, notFound } from '../errors.js';
import { Settings } from './config.js';
import { localPath, schemeOf } from './location.js';
import { backendFor } from './backends.js';
import { joinKey, objectLocation, objectUrl, remoteError, type ObjectBackend, type ObjectLocation } from './objects.js';

const META_DIR = '_bundlebase';
const TMP_PREFIX = '.tmp-';

/**
 * The files of one bundle's `_bundlebase` directory. Commits are published with `createExclusive`,
 * which makes a file appear whole or not at all and never overwrites.
 */
export interface ManifestStore {
  /** The bundle's url: its absolute path, `memory:///…`, or an object store's url (`s3://bucket/prefix`, …). */
  readonly url: string;
  /** The bundle's local directory, when it has one. */
  readonly dir: string | undefined;
  /** How to reach object storage from here: carried along the chain (parents, views). */
  readonly settings: Settings;
  list(): Promise<string[]>;
  read(name: string): Promise<Uint8Array | undefined>;
  /** Writes `name` atomically unless it exists; false when it already existed. */
  createExclusive(name: string, bytes: Uint8Array): Promise<boolean>;
  remove(name: string): Promise<void>;
  /** Removes temporary files a crashed writer left, once older than `maxAgeMs` (a live write takes milliseconds). */
  removeStaleTemporaries(maxAgeMs: number): Promise<void>;
  /** The store of a bundle nested in this one (views). */
  child(subdir: string): ManifestStore;
  /**
   * Every file of the bundle's location, relative and `/`-separated (`_bundlebase/…`, views,
   * stored data), for copying it whole (push, pull).
   */
  listFiles(): Promise<string[]>;
  /** A file of the bundle's location as a stream; NOT_FOUND when missing. */
  readFile(relative: string): Promise<Readable>;
  /** Writes a local file as `relative`, whole (a reader never sees part of it). */
  writeFile(relative: string, localFile: string): Promise<void>;
  /** Whether the bundle's location holds the file `relative`. */
  hasFile(relative: string): Promise<boolean>;
}

export function storeFor(url: string, settings: Settings = Settings.from()): ManifestStore {
  const scheme = schemeOf(url);
  if (scheme === 'memory') return new MemoryStore(url.replace(/\/+$/, ''), settings);
  const objects = objectLocation(url);
  if (objects) return new ObjectStore(objects, settings);
  const dir = localPath(url);
  if (dir === undefined) {
    throw invalidArgument(`Unsupported bundle location '${url}': use a local path, file://, memory:///, s3://bucket/prefix, azure://container/prefix or http(s)://`);
  }
  return new LocalStore(dir, settings);
}

class LocalStore implements ManifestStore {
  readonly url: string;
  private readonly meta: string;

  constructor(readonly dir: string, readonly settings: Settings) {
    this.url = dir;
    this.meta = path.join(dir, META_DIR);
  }

  async list(): Promise<string[]> {
    try {
      return await readdir(this.meta);
    } catch (err) {
      if (fsErrorCode(err) === 'ENOENT' || fsErrorCode(err) === 'ENOTDIR') return [];
      throw ioError(`Cannot list ${this.meta}: ${String(err)}`, err);
    }
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    try {
      // manifests are small: a synchronous read costs a sixth of the promise one's four thread-pool
      // round trips (open, stat, read, close), which dominated opening a 1,000-commit history
      return readFileSync(path.join(this.meta, name));
    } catch (err) {
      // ENOTDIR: the bundle path is a file, which holds no bundle (load.ts says so)
      if (fsErrorCode(err) === 'ENOENT' || fsErrorCode(err) === 'ENOTDIR') return undefined;
      throw ioError(`Cannot read ${path.join(this.meta, name)}: ${String(err)}`, err);
    }
  }

  async createExclusive(name: string, bytes: Uint8Array): Promise<boolean> {
    await mkdir(this.meta, { recursive: true }).catch((err) => {
      throw ioError(`Cannot create ${this.meta}: ${String(err)}`, err);
    });
    // write and fsync a temp file, then link it into place: link never overwrites, and readers see
    // the whole file or nothing. A crash leaves only a `.tmp-` file, which readers ignore.
    const tmp = path.join(this.meta, `${TMP_PREFIX}${randomUUID()}`);
    try {
      const handle = await open(tmp, 'wx');
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await link(tmp, path.join(this.meta, name));
      await syncDir(this.meta);
      return true;
    } catch (err) {
      if (fsErrorCode(err) === 'EEXIST') return false;
      throw ioError(`Cannot write ${path.join(this.meta, name)}: ${String(err)}`, err);
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  async remove(name: string): Promise<void> {
    await unlink(path.join(this.meta, name)).catch((err) => {
      if (fsErrorCode(err) !== 'ENOENT') throw ioError(`Cannot remove ${name}: ${String(err)}`, err);
    });
  }

  async removeStaleTemporaries(maxAgeMs: number): Promise<void> {
    const now = Date.now();
    for (const name of (await this.list()).filter((n) => n.startsWith(TMP_PREFIX))) {
      const file = path.join(this.meta, name);
      const age = await stat(file).then((s) => now - s.mtimeMs, () => 0);
      if (age > maxAgeMs) await unlink(file).catch(() => undefined);
    }
  }

  child(subdir: string): ManifestStore {
    return new LocalStore(path.join(this.dir, subdir), this.settings);
  }

  async listFiles(): Promise<string[]> {
    const entries = await readdir(this.dir, { recursive: true, withFileTypes: true }).catch((err: unknown) => {
      if (fsErrorCode(err) === 'ENOENT') return [];
      throw ioError(`Cannot list ${this.dir}: ${errorMessage(err)}`, err);
    });
    return entries.filter((e) => e.isFile()).map((e) => path.relative(this.dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
  }

  async readFile(relative: string): Promise<Readable> {
    const file = path.join(this.dir, relative);
    await stat(file).catch((err: unknown) => {
      if (fsErrorCode(err) === 'ENOENT') throw notFound(`${file} does not exist`, err);
      throw ioError(`Cannot read ${file}: ${errorMessage(err)}`, err);
    });
    return createReadStream(file);
  }

  hasFile(relative: string): Promise<boolean> {
    return stat(path.join(this.dir, relative)).then(() => true, () => false);
  }

  async writeFile(relative: string, localFile: string): Promise<void> {
    const target = path.join(this.dir, relative);
    const tmp = path.join(path.dirname(target), `${TMP_PREFIX}${randomUUID()}`);
    try {
      await mkdir(path.dirname(target), { recursive: true });
      await copyFile(localFile, tmp);
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw ioError(`Cannot write ${target}: ${errorMessage(err)}`, err);
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** In-process bundles (`memory:///name`): visible to every open() in this process. */
const memoryFiles = new Map<string, Map<string, Uint8Array>>();

class MemoryStore implements ManifestStore {
  readonly dir = undefined;

  constructor(readonly url: string, readonly settings: Settings) {}

  private files(): Map<string, Uint8Array> {
    let files = memoryFiles.get(this.url);
    if (!files) memoryFiles.set(this.url, (files = new Map()));
    return files;
  }

  async list(): Promise<string[]> {
    return [...(memoryFiles.get(this.url)?.keys() ?? [])];
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    return memoryFiles.get(this.url)?.get(name);
  }

  async createExclusive(name: string, bytes: Uint8Array): Promise<boolean> {
    const files = this.files();
    if (files.has(name)) return false;
    files.set(name, bytes.slice());
    return true;
  }

  async remove(name: string): Promise<void> {
    memoryFiles.get(this.url)?.delete(name);
  }

  async removeStaleTemporaries(): Promise<void> {
    // nothing is written in steps here
  }

  child(subdir: string): ManifestStore {
    return new MemoryStore(`${this.url}/${subdir}`, this.settings);
  }

  private inMemory(): never {
    throw invalidArgument(`Bundle ${this.url} is in memory: create it in a directory or bucket to copy it`);
  }

  listFiles(): Promise<string[]> {
    return this.inMemory();
  }

  readFile(): Promise<Readable> {
    return this.inMemory();
  }

  writeFile(): Promise<void> {
    return this.inMemory();
  }

  hasFile(): Promise<boolean> {
    return this.inMemory();
  }
}

/** Refuses a location that cannot be written (a bundle served over HTTP) before anything is recorded. */
export function requireWritable(store: ManifestStore): ManifestStore {
  if (objectLocation(store.url)?.scheme === 'http') {
    throw new BundlebaseError('READ_ONLY', `Bundle ${store.url} is served over HTTP, which is read-only: extend it into a writable location, or push it to one`);
  }
  return store;
}

/**
 * A bundle in a bucket (S3), container (Azure) or on a web server (HTTP, read-only). Object stores
 * write whole objects, so there are no temporary files; a commit is published with a conditional
 * create (If-None-Match: *), so of two writers exactly one creates it.
 */
class ObjectStore implements ManifestStore {
  readonly dir = undefined;
  readonly url: string;
  private readonly meta: string;

  constructor(private readonly location: ObjectLocation, readonly settings: Settings) {
    this.url = objectUrl(location);
    this.meta = joinKey(location.prefix, META_DIR);
  }

  /** Runs `action` on the backend for the manifest file `name`; a failure becomes a BundlebaseError naming its url. */
  private call<T>(name: string, action: (backend: ObjectBackend, key: string) => Promise<T>): Promise<T> {
    return this.onFile(`${META_DIR}/${name}`, action);
  }

  /** Runs `action` on the backend for the bundle's file `relative`. */
  private async onFile<T>(relative: string, action: (backend: ObjectBackend, key: string) => Promise<T>): Promise<T> {
    try {
      const backend = await backendFor(this.location, this.url, this.settings);
      return await action(backend, joinKey(this.location.prefix, relative));
    } catch (err) {
      throw remoteError(err, `${this.url}/${relative}`);
    }
  }

  list(): Promise<string[]> {
    return this.call('', (backend) => backend.list(`${this.meta}/`));
  }

  read(name: string): Promise<Uint8Array | undefined> {
    return this.call(name, (backend, key) => backend.get(key));
  }

  createExclusive(name: string, bytes: Uint8Array): Promise<boolean> {
    return this.call(name, (backend, key) => backend.putIfAbsent(key, bytes));
  }

  remove(name: string): Promise<void> {
    return this.call(name, (backend, key) => backend.delete(key));
  }

  async removeStaleTemporaries(): Promise<void> {
    // objects appear whole: nothing is written in steps
  }

  child(subdir: string): ManifestStore {
    return new ObjectStore({ ...this.location, prefix: joinKey(this.location.prefix, subdir) }, this.settings);
  }

  listFiles(): Promise<string[]> {
    return this.onFile('', (backend) => backend.listAll(this.location.prefix === '' ? '' : `${this.location.prefix}/`));
  }

  readFile(relative: string): Promise<Readable> {
    return this.onFile(relative, async (backend, key) => {
      const body = await backend.download(key);
      if (!body) throw notFound(`${this.url}/${relative} does not exist`);
      return body;
    });
  }

  writeFile(relative: string, localFile: string): Promise<void> {
    return this.onFile(relative, (backend, key) => backend.upload(key, localFile));
  }

  hasFile(relative: string): Promise<boolean> {
    return this.onFile(relative, async (backend, key) => (await backend.head(key)) !== undefined);
  }
}
