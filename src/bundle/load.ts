import path from 'node:path';
import { stat } from 'node:fs/promises';
import { invalidArgument, ioError, notFound } from '../errors.js';
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
import { Restore } from '../operations/restore.js';
import { SetConfig } from '../operations/metadata.js';
import { Settings, type ConfigEntry, type ConfigInput } from '../storage/config.js';
import { inArchive, schemeOf } from '../storage/location.js';
import { objectLocation, relativeObjectUrl, resolveObjectUrl } from '../storage/objects.js';
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
  /** Set when it was opened from a packed archive (read-only; see storage/archive.ts). */
  archive?: ArchiveOrigin;
}

/** Where a bundle opened from an archive came from, and where the archive is unpacked. */
export interface ArchiveOrigin {
  /** The archive file. */
  file: string;
  /** The unpacked archive: it holds the packed files at their original absolute paths. */
  root: string;
}

export interface OpenOptions {
  /** Open as of a past commit: its 12-hex version or its commit number. */
  version?: string | number;
  /**
   * Files or directories this bundle may read beyond its own directories, or `true` for anything
   * (its SQL then runs unrestricted). Sources you attached on this machine are trusted already.
   */
  trust?: Trust;
  /**
   * Storage configuration for this session (never stored): `{ 's3.endpoint': … }` for every URL,
   * or `{ 's3://bucket/': { 's3.endpoint': … } }` for URLs under a prefix. See README, "Object storage".
   */
  config?: ConfigInput;
}

/** How a bundle of the chain is loaded: the settings of the bundle that named it, carried along. */
export interface LoadOptions extends OpenOptions {
  settings?: Settings;
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

export async function loadBundle(url: string, options: LoadOptions = {}, archive?: ArchiveOrigin): Promise<LoadedBundle> {
  const store = storeFor(url, options.settings ?? Settings.from(options.config));
  const init = await readInit(store);
  if (!init) throw await missingBundle(store);
  const own = await loadCommits(store, archive);
  // the bundle's own storage config tells where its parent is (a local bundle extending one in a bucket)
  const settings = store.settings.withStored(storedConfig(own));
  const parent = init.from !== undefined ? await loadBundle(await parentUrl(init.from, store, archive), { settings }, archive) : undefined;
  const bundle: LoadedBundle = { store, url: store.url, id: init.id ?? parent!.id, init, parent, own, isView: isViewOf(store, parent), trust: checkedTrust(options.trust), archive };
  bindCommittedRestores(bundle);
  return options.version === undefined ? bundle : asOf(bundle, options.version);
}

/**
 * The settings a bundle reaches storage with: its session's, and the config set by `operations`
 * (default: its whole chain's commits; a builder adds its uncommitted ones).
 */
export function chainSettings(bundle: LoadedBundle, operations: readonly Operation[] = committedOperations(bundle)): Settings {
  return bundle.store.settings.withStored(configOf(operations));
}

function storedConfig(own: readonly CommitRecord[]): ConfigEntry[] {
  return configOf(own.flatMap((c) => c.changes.flat()));
}

function configOf(operations: readonly Operation[]): ConfigEntry[] {
  return operations.flatMap((op) => (op instanceof SetConfig ? [{ key: op.key, value: op.value, urlPrefix: op.urlPrefix }] : []));
}

async function loadCommits(store: ManifestStore, archive: ArchiveOrigin | undefined): Promise<CommitRecord[]> {
  const refs = await listCommits(store);
  const context = { baseDir: store.dir, root: archive?.root, baseUrl: store.dir === undefined && objectLocation(store.url) ? store.url : undefined };
  // read and parse every commit file concurrently; replay order is the sorted order of refs
  return Promise.all(
    refs.map(async (ref): Promise<CommitRecord> => {
      const doc = await readCommit(store, ref.file);
      const changes = doc.changes.map((change) =>
        change.operations.map((op) => operationFromManifest(op, context, `${store.url}/_bundlebase/${ref.file}`)),
      );
      return { number: ref.number, version: ref.hash, file: ref.file, url: store.url, doc, changes };
    }),
  );
}

/**
 * Binds each committed restore to the operations of the version it restores, commit by commit (a
 * restore may restore a version made by an earlier restore).
 */
function bindCommittedRestores(bundle: LoadedBundle): void {
  bundle.own.forEach((commit, i) => {
    const restores = commit.changes.flat().filter((op): op is Restore => op instanceof Restore);
    for (const op of restores) {
      const before = { ...bundle, own: bundle.own.slice(0, i) };
      try {
        op.bind(committedOperations(requireVersion(before, op.version)));
      } catch (err) {
        throw ioError(`Invalid 'restore' operation in manifest ${commit.url}/_bundlebase/${commit.file}: ${(err as Error).message}`, err);
      }
    }
  });
}

/** Binds the restores among `operations` (recorded on top of `bundle`'s commits) to their versions. */
export function bindRestores(bundle: LoadedBundle, operations: readonly Operation[]): void {
  for (const op of operations) if (op instanceof Restore) op.bind(committedOperations(requireVersion(bundle, op.version)));
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

/**
 * The bundle an init's `from:` names: absolute, or relative to the extending bundle's directory (so
 * a bundle and its chain can move together); inside an unpacked archive, the packed copy. A view
 * lives in `view_<id>/` inside its parent, so its parent is the bundle around it, also when older
 * manifests name it absolutely and the bundle was copied elsewhere since.
 */
async function parentUrl(from: string, store: ManifestStore, archive: ArchiveOrigin | undefined): Promise<string> {
  if (schemeOf(from) !== undefined) return from;
  const remote = objectLocation(store.url);
  // relative: in the same bucket; absolute: a local bundle (on this machine)
  if (remote) return path.isAbsolute(from) ? from : resolveObjectUrl(remote, from);
  if (!store.dir) return from;
  const resolved = archive ? inArchive(from, store.dir, archive.root) : path.resolve(store.dir, from);
  const around = path.dirname(store.dir);
  if (resolved === around || !/^view_[^/]+$/.test(path.basename(store.dir))) return resolved;
  return (await readInit(storeFor(around)).catch(() => undefined)) ? around : resolved;
}

/**
 * How an extending bundle's init names its parent: relative to its own directory when both are
 * local and share more than the file-system root, or are in the same bucket (they then usually
 * move together), else the url.
 */
export function fromReference(child: ManifestStore, parentUrl: string): string {
  const remote = relativeObjectUrl(child.url, parentUrl);
  if (remote !== undefined) return remote;
  const parentDir = storeFor(parentUrl, child.settings).dir;
  if (!child.dir || !parentDir) return parentUrl;
  const top = (dir: string) => dir.split(path.sep)[1];
  return top(child.dir) === top(parentDir) ? path.relative(child.dir, parentDir) || '.' : parentDir;
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
  const found = cutAt(bundle, version);
  if (!found) throw invalidArgument(`Version '${version}' not found in ${bundle.url}; versions: ${knownVersions(bundle)}`);
  return found;
}

/** Like asOf, for restore: an unknown version is NOT_FOUND saying how to list the versions. */
export function requireVersion(bundle: LoadedBundle, version: string | number): LoadedBundle {
  const found = cutAt(bundle, version);
  if (!found) {
    throw notFound(`Version '${version}' not found in ${bundle.url}; see history() (command line: bundlebase history) for its versions: ${knownVersions(bundle)}`);
  }
  return found;
}

function cutAt(bundle: LoadedBundle, version: string | number): LoadedBundle | undefined {
  const matches = (c: CommitRecord) =>
    typeof version === 'number' ? c.number === version : c.version === version || String(c.number) === version;
  const cut = (b: LoadedBundle): LoadedBundle | undefined => {
    const index = b.own.findIndex(matches);
    if (index >= 0) return { ...b, own: b.own.slice(0, index + 1) };
    const parent = b.parent && cut(b.parent);
    return parent && { ...b, parent, own: [] };
  };
  return cut(bundle);
}

function knownVersions(bundle: LoadedBundle): string {
  return allCommits(bundle).map((c) => `${c.number}:${c.version}`).join(', ') || 'none';
}
