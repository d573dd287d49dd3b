import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { privateTempDir, type ProgressListener } from '../engine/engine.js';
import { conflict, invalidArgument } from '../errors.js';
import { ensureInit, listCommits, readInit } from '../manifest/commits.js';
import { archiveFileOf } from '../storage/archive.js';
import type { ConfigInput } from '../storage/config.js';
import { requireNonEmpty } from '../storage/location.js';
import { isRemoteObject } from '../storage/remote.js';
import { requireWritable, storeFor, type ManifestStore } from '../storage/store.js';
import { allCommits, chainSettings, loadBundle, type LoadedBundle } from './load.js';
import { exportArchive, type ExportTarOptions } from './pack.js';

export interface PushOptions {
  /** Storage configuration for the target, on top of the bundle's own (as open()'s `config`). */
  config?: ConfigInput;
  /** Called after each file copied: `rowsProcessed` counts files, `percentage` the share done. */
  onProgress?: ProgressListener;
}

export interface PushResult {
  /** The target's url. */
  url: string;
  /** Files copied (data, views, indexes) and commits published; what the target had is skipped. */
  filesCopied: number;
  commitsCopied: number;
}

/** What a bundle directory holds that is not part of the bundle (a writer's leftovers, the CLI's staging). */
const TRANSIENT = /(^|\/)(\.tmp-[^/]*|\.claim-\d+|\.bundlebase-staged\.yaml)$/;

/**
 * Copies a committed bundle to `targetUrl` (a directory, bucket, or a `.tar`/`.tar.gz`) as one
 * bundle standing alone: the files of every bundle along its from-chain (views, indexes, stored
 * data) and every commit, renumbered in order (a commit's version, the hash of its bytes, is kept).
 * Only what the target lacks is copied, so pushing again sends the new commits. The target must
 * hold this bundle's history or a prefix of it: commits it has that this bundle lacks are a
 * CONFLICT (pull them first), and it writes nothing then. Data is copied before the manifests
 * naming it, so a reader of the target never sees a commit whose files are missing.
 */
export async function pushBundle(loaded: LoadedBundle, targetUrl: string, options: PushOptions = {}): Promise<PushResult> {
  requireNonEmpty(targetUrl, 'Push target');
  if (!loaded.init) throw invalidArgument(`Bundle ${loaded.url} is not committed yet: commit it before pushing it`);
  if (archiveFileOf(targetUrl) !== undefined) {
    await exportTarFrom(loaded, targetUrl);
    return { url: path.resolve(targetUrl), filesCopied: 1, commitsCopied: allCommits(loaded).length };
  }
  const target = requireWritable(storeFor(targetUrl, chainSettings(loaded).withConfig(options.config)));
  if (chainOf(loaded).some((b) => b.store.url === target.url)) throw invalidArgument(`${target.url} is the bundle itself (or one it extends): push it to another location`);
  const commits = allCommits(loaded).map((c, i) => ({ ...c, name: `${String(i + 1).padStart(5, '0')}${c.version}.yaml` }));
  const already = await requireCompatible(loaded, target, commits.map((c) => c.name));
  const present = new Set(await target.listFiles());
  const files = await filesToCopy(loaded, present);
  let done = 0;
  const total = files.length + commits.length - already;
  const report = () => options.onProgress?.({ percentage: total === 0 ? 100 : (100 * done) / total, rowsProcessed: done, totalRows: total });
  for (const { from, relative } of files) {
    await copyFile(from, target, relative);
    done++;
    report();
  }
  await ensureInit(target, { id: loaded.id });
  const stores = new Map(chainOf(loaded).map((b) => [b.url, b.store]));
  for (const commit of commits.slice(already)) {
    const bytes = await stores.get(commit.url)!.read(commit.file);
    if (!bytes) throw invalidArgument(`Commit ${commit.url}/_bundlebase/${commit.file} vanished while pushing`);
    if (!(await target.createExclusive(commit.name, bytes))) {
      throw conflict(`${target.url} received commit ${commit.number} from another writer while pushing; pull it, then push again`);
    }
    done++;
    report();
  }
  return { url: target.url, filesCopied: files.length, commitsCopied: commits.length - already };
}

/**
 * Packs the bundle into a `.tar`: from its local chain, or, when part of the chain is in a bucket or
 * on a web server, from a local copy pulled into a temporary directory first.
 */
export async function exportTarFrom(loaded: LoadedBundle, file: string, options: ExportTarOptions = {}): Promise<void> {
  if (!isRemoteChain(loaded)) return exportArchive(loaded, file, options);
  const copy = path.join(privateTempDir(), `pull-${randomUUID()}`);
  try {
    await pushBundle(loaded, copy);
    await exportArchive(await loadBundle(copy, { trust: loaded.trust }), file, options);
  } finally {
    await rm(copy, { recursive: true, force: true });
  }
}

function isRemoteChain(loaded: LoadedBundle): boolean {
  return chainOf(loaded).some((b) => b.store.dir === undefined && isRemoteObject(b.url));
}

/** The bundles of the chain, the bundle itself last. */
function chainOf(loaded: LoadedBundle): LoadedBundle[] {
  const chain: LoadedBundle[] = [];
  for (let b: LoadedBundle | undefined = loaded; b; b = b.parent) chain.unshift(b);
  return chain;
}

/**
 * How many of `names` (this bundle's commits, renumbered) the target holds already; CONFLICT when
 * it holds another bundle or commits this one lacks.
 */
async function requireCompatible(loaded: LoadedBundle, target: ManifestStore, names: string[]): Promise<number> {
  const init = await readInit(target);
  if (!init) return 0;
  if (init.id !== loaded.id) throw conflict(`${target.url} holds another bundle (id ${init.id ?? `extending ${init.from}`}); push to an empty location`);
  const theirs = await listCommits(target);
  const foreign = theirs.find((c, i) => names[i] !== c.file);
  if (foreign) {
    throw conflict(`${target.url} holds commit ${foreign.number} (${foreign.hash}) that ${loaded.url} does not have: open the target, extend it with your changes, or push to another location`);
  }
  return theirs.length;
}

/** Every file of the chain's locations the target lacks, except the chain's own manifests (renumbered above). */
async function filesToCopy(loaded: LoadedBundle, present: Set<string>): Promise<{ from: ManifestStore; relative: string }[]> {
  const files: { from: ManifestStore; relative: string }[] = [];
  for (const b of chainOf(loaded)) {
    for (const relative of await b.store.listFiles()) {
      if (relative.startsWith('_bundlebase/') || TRANSIENT.test(relative) || present.has(relative)) continue;
      present.add(relative);
      files.push({ from: b.store, relative });
    }
  }
  return files;
}

/** Copies one file: a local one directly, a remote one through a temporary file (uploads take files: they go in parts). */
async function copyFile(from: ManifestStore, to: ManifestStore, relative: string): Promise<void> {
  if (from.dir) return to.writeFile(relative, path.join(from.dir, ...relative.split('/')));
  const tmp = path.join(privateTempDir(), `push-${randomUUID()}`);
  try {
    await pipeline(await from.readFile(relative), createWriteStream(tmp));
    await to.writeFile(relative, tmp);
  } finally {
    await rm(tmp, { force: true });
  }
}
