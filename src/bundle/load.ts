import path from 'node:path';
import { stat } from 'node:fs/promises';
import { invalidArgument, notFound } from '../errors.js';
import {
  listCommits,
  readCommit,
  readInit,
  sha256Hex,
  type CommitFile,
  type InitFile,
} from '../manifest/commits.js';
import { operationFromManifest } from '../operations/registry.js';
import type { Operation } from '../operations/operation.js';
import { schemeOf } from '../storage/location.js';
import { storeFor, type ManifestStore } from '../storage/store.js';

/**
 * What the reader of a bundle trusts it to read beyond its own directories: `true` for anything
 * (the bundle's SQL then runs unrestricted), or files and directories (absolute paths).
 */
export type Trust = boolean | readonly string[];

/** One numbered commit, with its operations replayed in the context of the bundle that wrote it. */
export interface CommitRecord {
  number: number;
  /** 12 hex of the commit file (its name's hash part). */
  version: string;
  file: string;
  /** Url of the bundle whose `_bundlebase` holds the file. */
  url: string;
  doc: CommitFile;
  /** Operations per change, in order. */
  changes: Operation[][];
}

/** A bundle's committed state: its own commits on top of the chain it extends. */
export interface LoadedBundle {
  store: ManifestStore;
  url: string;
  id: string;
  init: InitFile | undefined;
  parent: LoadedBundle | undefined;
  own: CommitRecord[];
  /** A view: a bundle stored as `view_<id>/` inside its parent, extending it. */
  isView?: boolean;
  /** What its reader trusts it to read beyond its own directories (see access.ts). */
  trust?: Trust;
}

export interface OpenOptions {
  /** Open as of a past commit: its 12-hex version or its commit number. */
  version?: string | number;
  /**
   * Files or directories this bundle may read beyond its own directories, or `true` for anything
   * (its SQL then runs unrestricted). Sources you attached on this machine are trusted already.
   */
  trust?: Trust;
}

export function allCommits(bundle: LoadedBundle): CommitRecord[] {
  return [...(bundle.parent ? allCommits(bundle.parent) : []), ...bundle.own];
}

export function committedOperations(bundle: LoadedBundle): Operation[] {
  return allCommits(bundle).flatMap((c) => c.changes.flat());
}

/** 12 hex naming the state: the newest commit's, or (before any) one derived from the id. */
export function versionOf(bundle: LoadedBundle): string {
  return allCommits(bundle).at(-1)?.version ?? sha256Hex(bundle.id).slice(0, 12);
}

/** A bundle not yet committed anywhere. */
export function newBundle(store: ManifestStore, id: string, parent?: LoadedBundle): LoadedBundle {
  return { store, url: store.url, id: parent?.id ?? id, init: undefined, parent, own: [], trust: parent?.trust };
}

export async function loadBundle(url: string, options: OpenOptions = {}): Promise<LoadedBundle> {
  const store = storeFor(url);
  const init = await readInit(store);
  if (!init) throw await missingBundle(store);
  const parent = init.from !== undefined ? await loadBundle(resolveFrom(init.from, store)) : undefined;
  const refs = await listCommits(store);
  const context = { baseDir: store.dir };
  // read and parse every commit file concurrently; replay order is the sorted order of refs
  const own = await Promise.all(
    refs.map(async (ref): Promise<CommitRecord> => {
      const doc = await readCommit(store, ref.file);
      const changes = doc.changes.map((change) =>
        change.operations.map((op) => operationFromManifest(op, context, `${store.url}/_bundlebase/${ref.file}`)),
      );
      return { number: ref.number, version: ref.hash, file: ref.file, url: store.url, doc, changes };
    }),
  );
  const bundle: LoadedBundle = { store, url: store.url, id: init.id ?? parent!.id, init, parent, own, isView: isViewOf(store, parent), trust: checkedTrust(options.trust) };
  return options.version === undefined ? bundle : asOf(bundle, options.version);
}

function checkedTrust(trust: unknown): Trust | undefined {
  if (trust === undefined || typeof trust === 'boolean') return trust;
  if (Array.isArray(trust) && trust.every((t) => typeof t === 'string' && t !== '')) return trust.map((t: string) => path.resolve(t));
  throw invalidArgument(`trust must be true, false or a list of paths; got ${JSON.stringify(trust)}`);
}

/** A view lives in `view_<id>/` directly inside the bundle it extends. */
function isViewOf(store: ManifestStore, parent: LoadedBundle | undefined): boolean {
  if (!parent) return false;
  const slash = store.url.lastIndexOf('/');
  return /^view_[^/]+$/.test(store.url.slice(slash + 1)) && store.url.slice(0, slash) === parent.url;
}

/** `from:` may be absolute or relative to the extending bundle's directory. */
function resolveFrom(from: string, store: ManifestStore): string {
  if (schemeOf(from) !== undefined || path.isAbsolute(from) || !store.dir) return from;
  return path.resolve(store.dir, from);
}

async function missingBundle(store: ManifestStore) {
  if (store.dir) {
    const found = await stat(store.dir).catch(() => undefined);
    if (found?.isFile()) return notFound(`${store.dir} is a file, not a bundle: give the bundle's directory`);
    if (found) return notFound(`${store.dir} is not a bundle (it has no _bundlebase/00000000000000000.yaml)`);
  }
  return notFound(`Bundle not found at ${store.url}`);
}

/** The bundle as it was at `version` (12 hex or commit number), anywhere along its chain. */
export function asOf(bundle: LoadedBundle, version: string | number): LoadedBundle {
  const matches = (c: CommitRecord) =>
    typeof version === 'number' ? c.number === version : c.version === version || String(c.number) === version;
  const cut = (b: LoadedBundle): LoadedBundle | undefined => {
    const index = b.own.findIndex(matches);
    if (index >= 0) return { ...b, own: b.own.slice(0, index + 1) };
    const parent = b.parent && cut(b.parent);
    return parent && { ...b, parent, own: [] };
  };
  const found = cut(bundle);
  if (!found) {
    const known = allCommits(bundle).map((c) => `${c.number}:${c.version}`).join(', ');
    throw invalidArgument(`Version '${version}' not found in ${bundle.url}; versions: ${known || 'none'}`);
  }
  return found;
}
