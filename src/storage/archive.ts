import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import * as tar from 'tar';
import YAML from 'yaml';
import { errorMessage, fsErrorCode, invalidArgument, ioError, notFound } from '../errors.js';
import { cacheDir, rememberedHash } from './cache.js';
import { hashFile as hashContent } from './content.js';
import { schemeOf } from './location.js';

/**
 * Packed bundles: one .tar / .tar.gz holding a bundle's whole from-chain (manifests, views, index
 * and stored files) and the local files its referenced sources read, each at its absolute path
 * (without the leading `/`), plus an index naming the bundle. Opening one unpacks it once into the
 * cache, keyed by the archive's SHA-256; the unpacked root then stands for `/` of the machine that
 * packed it (location.ts, inArchive), so every recorded path finds its packed copy.
 */
const INDEX = 'bundlebase-archive.yaml';
const NAME = /\.(tar|tar\.gz|tgz)$/i;

interface ArchiveIndex {
  /** The bundle's directory inside the archive. */
  bundle: string;
  /** Packed file → `<size>-<mtime ms>` it had: referenced sources are checked by that stamp. */
  stamps: Record<string, string>;
}

/** The archive file `url` names (`x.tar`, `x.tar.gz`, `x.tgz`, `tar+file:///abs/x.tar`), if it names one. */
export function archiveFileOf(url: string): string | undefined {
  const scheme = schemeOf(url);
  if (scheme === 'tar+file') return fileURLToPath(url.slice('tar+'.length));
  if (scheme === 'file') return NAME.test(url) ? fileURLToPath(url) : undefined;
  return scheme === undefined && NAME.test(url) ? path.resolve(url) : undefined;
}

export interface PackPlan {
  /** The directory standing for the archive's root: `/`, or the root of the archive a bundle was unpacked from. */
  base: string;
  /** Directories packed whole (absolute). */
  directories: string[];
  /** Single files packed beside them (absolute). */
  files: string[];
  /** The bundle's directory (absolute, among `directories`). */
  bundle: string;
  /** Absolute file → its recorded stamp. */
  stamps: Map<string, string>;
}

/** Writes the archive atomically (a temporary file renamed into place), streaming every file. */
export async function writeArchive(target: string, plan: PackPlan, gzip: boolean): Promise<void> {
  if (!NAME.test(target)) throw invalidArgument(`Archive name '${target}' must end in .tar, .tar.gz or .tgz (open() recognises archives by it)`);
  const tmp = `${target}.tmp-${randomUUID()}`;
  const inArchive = (p: string) => path.relative(plan.base, p);
  const index: ArchiveIndex = { bundle: inArchive(plan.bundle), stamps: Object.fromEntries([...plan.stamps].map(([f, s]) => [inArchive(f), s])) };
  // only files and directories: a symlink could point anywhere once unpacked
  const pack = new tar.Pack({ cwd: plan.base, portable: true, filter: (p, s) => !('isFile' in s) || packable(p, s) });
  for (const p of [...plan.directories, ...plan.files]) pack.add(inArchive(p));
  pack.end();
  try {
    const body = Readable.from(withIndex(index, pack));
    await (gzip ? pipeline(body, createGzip(), createWriteStream(tmp)) : pipeline(body, createWriteStream(tmp)));
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw ioError(`Cannot write archive ${target}: ${errorMessage(err)}`, err);
  }
}

/** Leaves out what is not part of a bundle: staged changes, temporary files, claims, links. */
function packable(p: string, s: { isFile(): boolean; isDirectory(): boolean }): boolean {
  const name = path.basename(p);
  if (name === '.bundlebase-staged.yaml' || name.startsWith('.tmp-') || name.startsWith('.claim-')) return false;
  return s.isFile() || s.isDirectory();
}

/** The archive's bytes: the index entry first, then the packed files (a tar is a sequence of entries). */
async function* withIndex(index: ArchiveIndex, pack: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const data = Buffer.from(YAML.stringify(index, { lineWidth: 0 }));
  const header = new tar.Header({ path: INDEX, mode: 0o644, size: data.length, mtime: new Date(), type: 'File' });
  header.encode();
  yield header.block!;
  yield Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
  yield* pack;
}

/**
 * The bundle directory of an archive, unpacked once into the cache (reused by later opens of the
 * same content); concurrent opens are safe: each unpacks into a temporary directory, and the
 * first to rename it into place wins.
 */
export async function unpackArchive(file: string): Promise<{ root: string; bundle: string }> {
  const root = path.join(cacheDir(), 'archives', await hashFile(file));
  if (!(await isDirectory(root))) await unpackInto(file, root);
  const index = await readIndex(root, file);
  return { root, bundle: path.join(root, index.bundle) };
}

async function unpackInto(file: string, root: string): Promise<void> {
  await mkdir(path.dirname(root), { recursive: true });
  const tmp = await mkdtemp(path.join(path.dirname(root), '.tmp-'));
  try {
    await tar.x({ file, cwd: tmp, strict: true, filter: (_p, entry) => 'type' in entry && (entry.type === 'File' || entry.type === 'Directory') }).catch((err: unknown) => {
      throw ioError(`Cannot unpack archive ${file}: ${errorMessage(err)}`, err);
    });
    const index = await readIndex(tmp, file);
    // referenced sources are checked by size and modification time: give the copies the original's
    for (const [packed, stamp] of Object.entries(index.stamps)) {
      const mtime = Number(/^\d+-(\d+)$/.exec(stamp)?.[1]);
      // seconds, half a millisecond in: the file system rounds, and the stamp truncates to whole ms
      const seconds = (mtime + 0.5) / 1000;
      if (Number.isFinite(mtime)) await utimes(inside(tmp, packed, file), seconds, seconds).catch(() => undefined);
    }
    await rename(tmp, root).catch((err: unknown) => {
      // another process unpacked the same archive first: use its copy
      if (!['EEXIST', 'ENOTEMPTY', 'EPERM'].includes(fsErrorCode(err) ?? '')) throw ioError(`Cannot unpack archive ${file} into ${root}: ${errorMessage(err)}`, err);
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function readIndex(root: string, file: string): Promise<ArchiveIndex> {
  const text = await readFile(path.join(root, INDEX), 'utf8').catch(() => undefined);
  const doc = text === undefined ? undefined : (YAML.parse(text) as Partial<ArchiveIndex> | null);
  if (!doc || typeof doc.bundle !== 'string') throw ioError(`${file} is not a bundle archive (it has no ${INDEX}); make one with exportTar() or bundlebase export-tar`);
  inside(root, doc.bundle, file);
  return { bundle: doc.bundle, stamps: doc.stamps && typeof doc.stamps === 'object' ? doc.stamps : {} };
}

/** `relative` inside `root`; an index naming anything outside it is a damaged archive. */
function inside(root: string, relative: string, file: string): string {
  const resolved = path.resolve(root, relative);
  const rel = path.relative(root, resolved);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw ioError(`Archive ${file} names '${relative}', outside the archive`);
  return resolved;
}

async function hashFile(file: string): Promise<string> {
  const found = await stat(file).catch((err: unknown) => {
    if (fsErrorCode(err) === 'ENOENT') throw notFound(`Archive ${file} does not exist`, err);
    throw ioError(`Cannot read archive ${file}: ${errorMessage(err)}`, err);
  });
  if (!found.isFile()) throw notFound(`${file} is not an archive file`);
  // remembered while the archive is unchanged, so reopening a large one does not read it all
  return rememberedHash(file, hashContent);
}

const isDirectory = (p: string) => stat(p).then((s) => s.isDirectory(), () => false);
