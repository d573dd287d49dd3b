import { randomUUID } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { fsErrorCode, invalidArgument, ioError } from '../errors.js';
import { localPath, schemeOf } from './location.js';

const META_DIR = '_bundlebase';
const TMP_PREFIX = '.tmp-';

/**
 * The files of one bundle's `_bundlebase` directory. Commits are published with `createExclusive`,
 * which makes a file appear whole or not at all and never overwrites.
 */
export interface ManifestStore {
  /** The bundle's url: its absolute path, or `memory:///…`. */
  readonly url: string;
  /** The bundle's local directory, when it has one. */
  readonly dir: string | undefined;
  list(): Promise<string[]>;
  read(name: string): Promise<Uint8Array | undefined>;
  /** Writes `name` atomically unless it exists; false when it already existed. */
  createExclusive(name: string, bytes: Uint8Array): Promise<boolean>;
  remove(name: string): Promise<void>;
  /** Removes temporary files a crashed writer left, once older than `maxAgeMs` (a live write takes milliseconds). */
  removeStaleTemporaries(maxAgeMs: number): Promise<void>;
  /** The store of a bundle nested in this one (views). */
  child(subdir: string): ManifestStore;
}

export function storeFor(url: string): ManifestStore {
  const scheme = schemeOf(url);
  if (scheme === 'memory') return new MemoryStore(url.replace(/\/+$/, ''));
  const dir = localPath(url);
  if (dir === undefined) throw invalidArgument(`Unsupported bundle location '${url}': use a local path, file:// or memory:///`);
  return new LocalStore(dir);
}

class LocalStore implements ManifestStore {
  readonly url: string;
  private readonly meta: string;

  constructor(readonly dir: string) {
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
      return await readFile(path.join(this.meta, name));
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
    return new LocalStore(path.join(this.dir, subdir));
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

  constructor(readonly url: string) {}

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
    return new MemoryStore(`${this.url}/${subdir}`);
  }
}
