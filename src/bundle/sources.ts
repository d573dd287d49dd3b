import { BundlebaseError, notFound } from '../errors.js';
import type { EngineDatabase } from '../engine/engine.js';
import { ensureTableFunction } from '../engine/functions.js';
import { stat } from 'node:fs/promises';
import { functionName, type AttachBlock } from '../operations/attachBlock.js';
import { attachedBlocks, recordedBlocks } from '../operations/blocks.js';
import type { Operation } from '../operations/operation.js';
import type { PlanState } from '../plan/state.js';
import type { Settings } from '../storage/config.js';
import { rememberedHash } from '../storage/cache.js';
import { hashFile } from '../storage/content.js';
import { sameStamp, schemeOf, stampFile } from '../storage/location.js';
import { isRemoteObject, localCopy, objectState } from '../storage/remote.js';

/** Registers the function sources of `operations` on `database`, which will read them. */
export async function registerFunctions(operations: readonly Operation[], database: EngineDatabase): Promise<void> {
  const functions = attachedBlocks(operations).filter((op) => op.format === 'function');
  for (const op of functions) await ensureTableFunction(functionName(op.source), database);
}

/**
 * DuckDB threads for a bundle's reads: 1 when every source is a function source (its pages come
 * from JS one at a time, so a second thread has nothing to run; it would only spin polling the
 * streaming result while the function waits on JS: 0.7× the CPU at 1 thread), else DuckDB's default.
 * Reads of other files (`extraFiles`: a source being attached, an export) keep the default.
 */
export function readThreads(operations: readonly Operation[], extraFiles: readonly string[] = []): number | undefined {
  const blocks = attachedBlocks(operations);
  const onlyFunctions = blocks.length > 0 && blocks.every((op) => op.format === 'function');
  return onlyFunctions && extraFiles.length === 0 ? 1 : undefined;
}

/**
 * Refuses to read a bundle whose data would silently differ from what was committed: a referenced
 * local source that changed or vanished since it was attached (SOURCE_CHANGED / NOT_FOUND), or a
 * stored copy that is missing or damaged (NOT_FOUND / DATA_CORRUPT; hashed once while the file is
 * unchanged on disk, remembered across processes in the cache: cache.ts rememberedHash).
 * `existence`: only that every referenced file is still there (recording an edit: it should not
 * hash stored copies, and a changed file is refused when it is read, as before).
 */
export async function verifySources(operations: readonly Operation[], existence = false): Promise<void> {
  const local = attachedBlocks(operations).filter((op) => op.format !== 'function' && schemeOf(op.location) === undefined);
  const checks = local.map(async (op) => {
    if (op.stored) return existence ? undefined : verifyStored(op);
    // no recorded stamp (an older manifest, or one the original bundlebase wrote): nothing to compare,
    // and its location need not be a single file
    if (op.fields.version === undefined) return;
    const remedy = 'put the original back, replace it with replace(source, url) (command line: bundlebase replace), or detach it';
    const stamp = await stampFile(op.location).catch((err: unknown) => {
      if (err instanceof BundlebaseError && err.code === 'NOT_FOUND') throw notFound(`Source '${op.source}' (${op.location}) no longer exists; ${remedy}`, err);
      throw err;
    });
    if (!existence && !sameStamp(op.fields.version, stamp.version)) {
      throw new BundlebaseError('SOURCE_CHANGED', `Source '${op.source}' (${op.location}) changed since it was attached (recorded ${op.fields.version}, now ${stamp.version}); ${remedy}`);
    }
  });
  await Promise.all(checks);
}

/** Stored files whose hash was checked in this process, by file and its state on disk then. */
const verifiedStored = new Map<string, Promise<void>>();

function verifyStored(op: AttachBlock): Promise<void> {
  const file = op.location;
  return stat(file).then(
    (s) => {
      const key = `${file}\n${s.size}-${s.mtimeMs}-${s.ino}`;
      let check = verifiedStored.get(key);
      if (!check) {
        check = storedProblem(op, (f) => rememberedHash(f, hashFile)).then((problem) => {
          if (problem) throw new BundlebaseError('DATA_CORRUPT', `${describeProblem(problem)}; run verifyData() (command line: bundlebase verify) to list every damaged file`);
        });
        verifiedStored.set(key, check);
        check.catch(() => verifiedStored.delete(key));
      }
      return check;
    },
    (err: unknown) => {
      throw notFound(`The stored copy of source '${op.source}' (${file}) is missing: restore the bundle directory from a copy, or replace the source`, err);
    },
  );
}

/** What is wrong with the data a bundle reads, as `verifyData()` reports it. */
export interface DataProblem {
  /** The source as attached. */
  source: string;
  /** Its block id. */
  block: string;
  /** The file checked: the stored copy, or the referenced source. */
  file: string;
  /** `missing`: not there; `corrupt`: a stored copy whose hash differs; `changed`: a referenced source rewritten since attach. */
  kind: 'missing' | 'corrupt' | 'changed';
  /** The recorded SHA-256 (stored) or stamp `<size>-<mtime>` (referenced). */
  expected: string;
  /** What it is now (null when missing). */
  actual: string | null;
}

export interface DataCheck {
  ok: boolean;
  problems: DataProblem[];
}

/**
 * Re-hashes every stored file the bundle's versions read (`recorded`: every operation of its
 * history) and checks every local source the current state (`current`) references, in place.
 */
export async function checkData(recorded: readonly Operation[], current: readonly Operation[], settings: Settings): Promise<DataCheck> {
  const seen = new Set<string>();
  const problems: DataProblem[] = [];
  const local = (op: AttachBlock) => op.format !== 'function' && schemeOf(op.location) === undefined;
  const remote = (op: AttachBlock) => op.format !== 'function' && isRemoteObject(op.location);
  for (const op of recordedBlocks(recorded).filter((b) => b.stored && (local(b) || remote(b)))) {
    if (seen.has(op.location)) continue;
    seen.add(op.location);
    const problem = remote(op) ? await remoteProblem(op, settings, 'hash') : await storedProblem(op);
    if (problem) problems.push(problem);
  }
  for (const op of attachedBlocks(current).filter((b) => !b.stored && (local(b) || remote(b)))) {
    const expected = op.fields.version;
    if (expected === undefined) continue;
    if (remote(op)) {
      const problem = await remoteProblem(op, settings, 'version');
      if (problem) problems.push(problem);
      continue;
    }
    const base = { source: op.source, block: op.fields.id, file: op.location, expected };
    const actual = await stampFile(op.location).then((s) => s.version, () => null);
    if (actual === null) problems.push({ ...base, kind: 'missing', actual });
    else if (!sameStamp(expected, actual)) problems.push({ ...base, kind: 'changed', actual });
  }
  return { ok: problems.length === 0, problems };
}

/**
 * The problem of a block read from a bucket or web server, if any: a stored file re-hashed from the
 * object's bytes (`hash`), or a referenced object's version (`version`).
 */
async function remoteProblem(op: AttachBlock, settings: Settings, what: 'hash' | 'version'): Promise<DataProblem | undefined> {
  const expected = (what === 'hash' ? op.fields.hash : op.fields.version) ?? '';
  const state = await objectState(op.location, settings, what);
  const base = { source: op.source, block: op.fields.id, file: op.location, expected, actual: state.now };
  if (state.now === null) return { ...base, kind: 'missing' };
  if (state.matches(expected)) return undefined;
  return { ...base, kind: what === 'hash' ? 'corrupt' : 'changed' };
}

/** A stored copy's problem (missing, or its bytes no longer hash to the recorded SHA-256), if any. */
async function storedProblem(op: AttachBlock, hash: (file: string) => Promise<string> = hashFile): Promise<DataProblem | undefined> {
  const base = { source: op.source, block: op.fields.id, file: op.location, expected: op.fields.hash ?? '' };
  const actual = await hash(op.location).catch((err: unknown) => {
    if (err instanceof BundlebaseError && err.code === 'NOT_FOUND') return null;
    throw err;
  });
  if (actual === null) return { ...base, kind: 'missing', actual };
  return actual === base.expected ? undefined : { ...base, kind: 'corrupt', actual };
}

export function describeProblem(p: DataProblem): string {
  switch (p.kind) {
    case 'missing':
      return `${p.file} (source '${p.source}', block ${p.block}) is missing`;
    case 'corrupt':
      return `${p.file} (stored copy of source '${p.source}', block ${p.block}) is damaged: its SHA-256 is ${p.actual}, recorded ${p.expected}`;
    case 'changed':
      return `${p.file} (source '${p.source}', block ${p.block}) changed since it was attached (recorded ${p.expected}, now ${p.actual})`;
  }
}

/** Index files of a bundle in a bucket or on a web server, fetched into the cache (once: they never change) and read there. */
export async function fetchIndexFiles(state: PlanState, settings: Settings): Promise<void> {
  for (const index of state.indexes.values()) {
    for (const entry of index.files) if (isRemoteObject(entry.file)) entry.file = (await localCopy(entry.file, settings)).file;
  }
}
