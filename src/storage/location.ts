import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { stat } from 'node:fs/promises';
import { fsErrorCode, invalidArgument, ioError, notFound } from '../errors.js';
import { objectLocation, resolveObjectUrl } from './objects.js';

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

export function schemeOf(url: string): string | undefined {
  return SCHEME.exec(url)?.[1]?.toLowerCase();
}

/** A local path or file:// URL as an absolute path; other URLs unchanged. */
export function localPath(url: string): string | undefined {
  const scheme = schemeOf(url);
  if (scheme === undefined) return path.resolve(url);
  if (scheme === 'file') return fileURLToPath(url);
  return undefined;
}

/** Schemes a source may have: local files, function sources, objects in buckets and on web servers. */
const SOURCE_SCHEMES = new Set(['file', 'function', 's3', 'azure', 'az', 'http', 'https']);

/** Refuses a source URL of a kind bundlebase cannot read, naming it and what is accepted. */
export function checkSourceScheme(source: string): void {
  const scheme = schemeOf(source);
  if (scheme !== undefined && !SOURCE_SCHEMES.has(scheme)) {
    throw invalidArgument(`Unsupported source '${source}': use a local path, file://, function://, s3://, azure:// (az://) or http(s)://`);
  }
}

/**
 * Where a source given to attach() lives: URLs as they are, relative paths against the directory of
 * the bundle that recorded them (the working directory for in-memory bundles), or for a bundle in a
 * bucket or on a web server (`baseUrl`), the object beside it.
 */
export function resolveSource(source: string, baseDir: string | undefined, root?: string, baseUrl?: string): string {
  const scheme = schemeOf(source);
  if (scheme !== undefined && scheme !== 'file') return source;
  const remote = baseUrl === undefined || scheme !== undefined || path.isAbsolute(source) ? undefined : objectLocation(baseUrl);
  if (remote) return resolveObjectUrl(remote, source);
  const file = scheme === 'file' ? fileURLToPath(source) : source;
  if (root === undefined) return path.resolve(baseDir ?? process.cwd(), file);
  return inArchive(file, baseDir ?? root, root);
}

/**
 * Where a path recorded on the machine that packed an archive is in the archive unpacked at
 * `root`, which holds the packed files at their original absolute paths: `baseDir` (under `root`)
 * stands for the directory it was there, so relative paths resolve as they did and never climb
 * out of `root`.
 */
export function inArchive(file: string, baseDir: string, root: string): string {
  const original = path.resolve('/', path.relative(root, baseDir));
  return path.join(root, path.resolve(original, file));
}

/** Whether `file` lies strictly inside directory `dir` (both absolute). */
export function isInside(file: string, dir: string): boolean {
  const relative = path.relative(dir, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

export function requireNonEmpty(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw invalidArgument(`${what} must be a non-empty string`);
  return value;
}

export interface FileStamp {
  bytes: number;
  /** `<size>-<mtime ms>`: changes whenever the file is rewritten. */
  version: string;
}

/**
 * Whether a file's stamp now is the one recorded: same size, modification time within a
 * millisecond (copies that keep timestamps — cp -p, archives — may round the last digit).
 */
export function sameStamp(recorded: string, now: string): boolean {
  if (recorded === now) return true;
  const [a, b] = [recorded, now].map((v) => /^(\d+)-(\d+)$/.exec(v));
  return !!a && !!b && a[1] === b[1] && Math.abs(Number(a[2]) - Number(b[2])) <= 1;
}

/** Size and modification stamp of a local file; NOT_FOUND naming it when missing. */
export async function stampFile(file: string): Promise<FileStamp> {
  try {
    const s = await stat(file);
    if (!s.isFile()) throw invalidArgument(`Source '${file}' is not a file`);
    return { bytes: s.size, version: `${s.size}-${Math.trunc(s.mtimeMs)}` };
  } catch (err) {
    if (fsErrorCode(err) === 'ENOENT') throw notFound(`Source file '${file}' does not exist`, err);
    if (err instanceof Error && err.name === 'BundlebaseError') throw err;
    throw ioError(`Cannot read source file '${file}': ${String(err)}`, err);
  }
}
