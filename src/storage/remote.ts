import { createReadStream } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BundlebaseError, notFound } from '../errors.js';
import { backendFor } from './backends.js';
import { cached } from './cache.js';
import { hashingStream } from './content.js';
import type { Settings } from './config.js';
import { objectLocation, remoteError, resolveObjectUrl } from './objects.js';

export interface LocalCopy {
  /** The copy in the content cache (DuckDB reads it there). */
  file: string;
  /** The object's version (ETag or version id) the copy holds. */
  version: string;
  bytes: number;
}

/** Copies fetched by this process: url + version → cached file (content for a version never changes). */
const copies = new Map<string, string>();

/**
 * Where the engine reads `url` at `version`: its local copy once localCopy() fetched it in this
 * process (access.ts does before every read), else `url` itself (which DuckDB then cannot read).
 */
export function readableLocation(url: string, version: string | undefined): string {
  return (version !== undefined && copies.get(`${url}\n${version}`)) || url;
}

/**
 * Whether the object is still the version recorded: its ETag; or, for a file recorded on local disk
 * (`<size>-<mtime>`) and pushed beside its bundle since, its size (an upload does not keep mtimes).
 */
function sameVersion(recorded: string, now: { size: number; version: string }): boolean {
  const localStamp = /^(\d+)-\d+$/.exec(recorded);
  return recorded === now.version || (localStamp !== null && Number(localStamp[1]) === now.size);
}

/** Whether `url` names an object in a bucket or on a web server (s3://, azure://, az://, http(s)://). */
export function isRemoteObject(url: string): boolean {
  return objectLocation(url) !== undefined;
}

/**
 * A local copy of the object at `url`, downloaded into the content cache once per version (its
 * ETag): the same version is never downloaded again. With `expectedVersion`, an object that changed
 * since is SOURCE_CHANGED, like a local file rewritten after attach.
 */
export async function localCopy(url: string, settings: Settings, expectedVersion?: string): Promise<LocalCopy> {
  const { backend: reach, key } = objectOf(url, settings);
  try {
    const backend = await reach();
    const info = await backend.head(key);
    if (!info) throw notFound(`Source '${url}' does not exist`);
    if (expectedVersion !== undefined && !sameVersion(expectedVersion, info)) {
      throw new BundlebaseError(
        'SOURCE_CHANGED',
        `Source '${url}' changed since it was attached (recorded version ${expectedVersion}, now ${info.version}); put the original back, replace it with replace(source, url) (command line: bundlebase replace), or detach it`,
      );
    }
    const file = await cached({
      key: `${url}\n${info.version}`,
      what: url,
      open: async () => {
        const body = await backend.download(key);
        if (!body) throw notFound(`Source '${url}' vanished while downloading`);
        return body;
      },
    });
    // found again by the version the bundle recorded (which may be a local stamp: sameVersion)
    copies.set(`${url}\n${expectedVersion ?? info.version}`, file);
    return { file, version: info.version, bytes: info.size };
  } catch (err) {
    throw remoteError(err, url);
  }
}

/**
 * A file stored inside a bundle in a bucket or on a web server (content-addressed data), as a local
 * copy in the content cache: keyed by its SHA-256 `hash`, so it is downloaded once and checked
 * against the hash on the way in.
 */
export async function storedCopy(url: string, settings: Settings, hash: string): Promise<string> {
  const { backend, key } = objectOf(url, settings);
  try {
    const file = await cached({
      key: hash,
      what: url,
      open: async () => {
        const body = await (await backend()).download(key);
        if (!body) throw notFound(`Stored file '${url}' does not exist`);
        return body;
      },
    });
    copies.set(`${url}\n${hash}`, file);
    return file;
  } catch (err) {
    throw remoteError(err, url);
  }
}

/** The object `url` names: its key and (on first use) the backend reaching its bucket. */
function objectOf(url: string, settings: Settings) {
  const location = objectLocation(url);
  if (!location || location.prefix === '') throw notFound(`'${url}' names no object`);
  return { key: location.prefix, backend: () => backendFor({ ...location, prefix: '' }, url, settings) };
}

/**
 * Puts `file`, stored data of a bundle in a bucket not uploaded yet, into the content cache as the
 * object `relative` beside the bundle at `bundleUrl` will hold: reads before the commit (which
 * uploads it) find it there by its hash, as reads after it do.
 */
export async function stageObject(bundleUrl: string, relative: string, hash: string, file: string): Promise<void> {
  const location = objectLocation(bundleUrl);
  if (!location) throw notFound(`'${bundleUrl}' is not in a bucket`);
  const url = resolveObjectUrl(location, relative);
  copies.set(`${url}\n${hash}`, await cached({ key: hash, what: url, open: async () => createReadStream(file) }));
}

/** What an object is now, for verifyData(): its SHA-256 (`hash`) or its version; null when it is gone. */
export async function objectState(url: string, settings: Settings, what: 'hash' | 'version'): Promise<{ now: string | null; matches(recorded: string): boolean }> {
  const { backend: reach, key } = objectOf(url, settings);
  try {
    const backend = await reach();
    const info = await backend.head(key);
    if (!info) return { now: null, matches: () => false };
    if (what === 'version') return { now: info.version, matches: (recorded) => sameVersion(recorded, info) };
    const body = await backend.download(key);
    if (!body) return { now: null, matches: () => false };
    // streamed through the hash, never kept: a check reads the bucket's bytes, not the cache's copy
    const tap = hashingStream();
    await pipeline(body, tap.stream, new Writable({ write: (_chunk, _encoding, done) => done() }));
    const hash = tap.digest();
    return { now: hash, matches: (recorded) => recorded === hash };
  } catch (err) {
    throw remoteError(err, url);
  }
}
