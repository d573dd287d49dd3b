import os from 'node:os';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { ensureInit, publishCommit, serialize, type CommitFile, type InitFile, type ManifestOp } from '../manifest/commits.js';
import { AttachBlock } from '../operations/attachBlock.js';
import { IndexBlocks } from '../operations/indexBlocks.js';
import { ReplaceBlock } from '../operations/replaceBlock.js';
import type { Operation, ReplayContext } from '../operations/operation.js';
import { isRemoteObject } from '../storage/remote.js';
import type { ManifestStore } from '../storage/store.js';
import { operationFromManifest } from '../operations/registry.js';
import { fromReference, type LoadedBundle } from './load.js';
import { storeDirOf } from './stored.js';

/** One change as recorded by a builder: its operations, and a view it creates. */
export interface RecordedChange {
  id: string;
  description: string;
  operations: Operation[];
  /** A view created by this change: written as `view_<id>/` when the change is committed. */
  view?: { viewId: string; changes: RecordedChange[] };
}

/** A recorded change in manifest form, as the command line stages it between commands. */
export interface StagedChange {
  id: string;
  description: string;
  operations: ManifestOp[];
  view?: { viewId: string; changes: StagedChange[] };
}

export function toStaged(change: RecordedChange): StagedChange {
  return {
    id: change.id,
    description: change.description,
    operations: change.operations.map((op) => op.toManifest()),
    ...(change.view ? { view: { viewId: change.view.viewId, changes: change.view.changes.map(toStaged) } } : {}),
  };
}

export function fromStaged(change: StagedChange, context: ReplayContext, source: string): RecordedChange {
  return {
    id: change.id,
    description: change.description,
    operations: change.operations.map((op) => operationFromManifest(op, context, source)),
    ...(change.view ? { view: { viewId: change.view.viewId, changes: change.view.changes.map((c) => fromStaged(c, context, source)) } } : {}),
  };
}

/** The init manifest: as read, or for a new bundle its id or (relative when near) its parent. */
function initOf(loaded: LoadedBundle): InitFile {
  if (loaded.init) return loaded.init;
  return loaded.parent ? { from: fromReference(loaded.store, loaded.parent.url) } : { id: loaded.id };
}

/** Writes the init manifest, so an empty bundle can be opened before its first commit. */
export async function initializeBundle(loaded: LoadedBundle): Promise<void> {
  await ensureInit(loaded.store, initOf(loaded));
}

/**
 * Writes `changes` as the bundle's next commit, atomically (views first: each is a bundle of its
 * own inside this one, referenced by the commit), and returns the bundle's state after it.
 */
export async function writeCommit(loaded: LoadedBundle, message: string, changes: readonly RecordedChange[]): Promise<LoadedBundle> {
  const number = (loaded.own.at(-1)?.number ?? 0) + 1;
  const doc = commitDoc(message, changes);
  const store = loaded.store;
  await initializeBundle(loaded);
  for (const view of changes.flatMap((c) => (c.view ? [c.view] : []))) {
    const viewStore = store.child(`view_${view.viewId}`);
    await ensureInit(viewStore, { from: fromReference(viewStore, store.url) });
    await publishCommit(viewStore, 1, serialize(commitDoc(message, view.changes)));
  }
  await uploadLocalFiles(store, changes);
  const file = await publishCommit(store, number, serialize(doc));
  const version = file.slice(5, 17);
  return {
    ...loaded,
    init: loaded.init ?? initOf(loaded),
    own: [...loaded.own, { number, version, file, url: store.url, doc, changes: changes.map((c) => c.operations) }],
  };
}

/**
 * A bundle in a bucket builds its index files in a local temporary directory and stages the data
 * it stores in another (stored.ts): they are uploaded beside it before the commit naming them is
 * published, so no reader sees a commit without them. Stored data is named by its content, so a
 * file already there is not sent again.
 */
async function uploadLocalFiles(store: ManifestStore, changes: readonly RecordedChange[]): Promise<void> {
  if (store.dir !== undefined || !isRemoteObject(store.url)) return;
  const staging = storeDirOf(store);
  for (const op of changes.flatMap((c) => c.operations)) {
    if (op instanceof IndexBlocks && op.context.baseDir !== undefined) await store.writeFile(op.path, op.file);
    const block = op instanceof ReplaceBlock ? op.block : op;
    const stored = block instanceof AttachBlock && block.fields.hash !== undefined ? block.fields.location : undefined;
    if (stored === undefined || staging === undefined || path.isAbsolute(stored)) continue;
    const staged = path.join(staging, ...stored.split('/'));
    if (!(await store.hasFile(stored))) await store.writeFile(stored, staged);
    // there now: reads get it from the content cache, or from the bucket
    await rm(staged, { force: true });
  }
}

function commitDoc(message: string, changes: readonly RecordedChange[]): CommitFile {
  return {
    author: author(),
    message,
    timestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    changes: changes.map((c) => ({ id: c.id, description: c.description, operations: c.operations.map((op) => op.toManifest()) })),
  };
}

function author(): string {
  if (process.env.BUNDLEBASE_AUTHOR) return process.env.BUNDLEBASE_AUTHOR;
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}
