import { createHash } from 'node:crypto';
import jsYaml from 'js-yaml';
import YAML from 'yaml';
import { conflict, errorMessage, ioError, notFound } from '../errors.js';
import type { ManifestStore } from '../storage/store.js';

const INIT_FILE = '00000000000000000.yaml';
const COMMIT_FILE = /^(\d{5})([0-9a-f]{12})\.yaml$/;

/** The init commit: a new bundle's id, or the url of the bundle it extends. */
export interface InitFile {
  id?: string;
  from?: string;
}

/** An operation as a manifest stores it: `type` plus camelCase fields (docs/architecture.md, "Files on disk"). */
export type ManifestOp = { type: string } & Record<string, unknown>;

interface ManifestChange {
  id: string;
  description: string;
  operations: ManifestOp[];
}

/** One numbered commit file, as docs/architecture.md ("Files on disk") lays it out. */
export interface CommitFile {
  author: string;
  message: string;
  timestamp: string;
  changes: ManifestChange[];
}

export interface CommitRef {
  number: number;
  /** 12 hex: the first 12 of the SHA-256 of the file's bytes. */
  hash: string;
  file: string;
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function commitFileName(number: number, bytes: Uint8Array): string {
  return `${String(number).padStart(5, '0')}${sha256Hex(bytes).slice(0, 12)}.yaml`;
}

/** Numbered commit files, oldest first (temp files, claims and other names are ignored). */
export async function listCommits(store: ManifestStore): Promise<CommitRef[]> {
  const refs: CommitRef[] = [];
  for (const file of await store.list()) {
    const m = COMMIT_FILE.exec(file);
    if (m && file !== INIT_FILE) refs.push({ number: Number(m[1]), hash: m[2]!, file });
  }
  return refs.sort((a, b) => a.number - b.number || a.file.localeCompare(b.file));
}

export function serialize(doc: object): Uint8Array {
  return new TextEncoder().encode(YAML.stringify(doc, { lineWidth: 0, aliasDuplicateObjects: false }));
}

function location(store: ManifestStore, file: string): string {
  return `${store.url}/_bundlebase/${file}`;
}

/**
 * YAML 1.2's core integers, read exactly: a value a JS number holds becomes a number, a larger one
 * a bigint (a 64-bit parameter such as 9007199254740993 must not round to its neighbour).
 */
const exactInteger = new jsYaml.Type('tag:yaml.org,2002:int', {
  kind: 'scalar',
  resolve: (text: string) => /^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$/.test(text),
  construct: (text: string) => {
    const big = text.startsWith('0o') ? BigInt(`0o${text.slice(2)}`) : BigInt(text.replace(/^\+/, ''));
    return big >= Number.MIN_SAFE_INTEGER && big <= Number.MAX_SAFE_INTEGER ? Number(big) : big;
  },
});

/**
 * The core schema (what `yaml` writes: no timestamps or YAML 1.1 forms) with exact integers. Read
 * with js-yaml, 2–3× faster than `yaml`'s document model, which dominated opening long histories.
 */
const MANIFEST_SCHEMA = jsYaml.CORE_SCHEMA.extend({ implicit: [exactInteger] }); // same tag: replaces core's int

async function parseFile(store: ManifestStore, file: string): Promise<unknown> {
  const bytes = await store.read(file);
  if (bytes === undefined) throw notFound(`Manifest ${location(store, file)} does not exist`);
  try {
    return jsYaml.load(new TextDecoder().decode(bytes), { schema: MANIFEST_SCHEMA, filename: file });
  } catch (err) {
    throw ioError(`Corrupt manifest ${location(store, file)}: ${errorMessage(err)}`, err);
  }
}

export async function readInit(store: ManifestStore): Promise<InitFile | undefined> {
  if ((await store.read(INIT_FILE)) === undefined) return undefined;
  const doc = await parseFile(store, INIT_FILE);
  const init = (doc ?? {}) as InitFile;
  if (typeof doc !== 'object' || (typeof init.id !== 'string' && typeof init.from !== 'string')) {
    throw ioError(`Corrupt manifest ${location(store, INIT_FILE)}: expected 'id' or 'from'`);
  }
  return init;
}

export async function readCommit(store: ManifestStore, file: string): Promise<CommitFile> {
  const doc = (await parseFile(store, file)) as Partial<CommitFile> | null;
  const bad = (what: string) => ioError(`Corrupt manifest ${location(store, file)}: ${what}`);
  if (!doc || typeof doc !== 'object') throw bad('not a YAML mapping');
  if (!Array.isArray(doc.changes)) throw bad("missing 'changes' list");
  for (const change of doc.changes) {
    if (!change || typeof change !== 'object' || !Array.isArray(change.operations)) throw bad("a change without an 'operations' list");
    for (const op of change.operations) {
      if (!op || typeof op !== 'object' || typeof op.type !== 'string') throw bad("an operation without a 'type'");
    }
  }
  return {
    author: String(doc.author ?? ''),
    message: String(doc.message ?? ''),
    timestamp: String(doc.timestamp ?? ''),
    changes: doc.changes.map((c) => ({ id: String(c.id ?? ''), description: String(c.description ?? ''), operations: c.operations })),
  };
}

/** Writes the init file unless one exists; an existing one must agree. */
export async function ensureInit(store: ManifestStore, init: InitFile): Promise<void> {
  if (await store.createExclusive(INIT_FILE, serialize(init))) return;
  const existing = await readInit(store);
  const same = existing && (existing.from ?? existing.id) === (init.from ?? init.id);
  if (!same) throw conflict(`${store.url} already holds a different bundle`);
}

const claimName = (number: number) => `.claim-${String(number).padStart(5, '0')}`;

/**
 * Publishes commit `number` on top of `number - 1`. A writer first claims the number with an
 * exclusive `.claim-NNNNN` file holding the whole commit, then links the commit into place and
 * drops the claim. Of two writers on the same parent exactly one claims the number; the other gets
 * CONFLICT. A claim left by a crashed writer is complete (it was written before being linked), so
 * the next writer finishes publishing it rather than leaving a hole.
 */
export async function publishCommit(store: ManifestStore, number: number, bytes: Uint8Array): Promise<string> {
  const file = commitFileName(number, bytes);
  await removeLeftovers(store);
  await requireParent(store, number);
  if (!(await store.createExclusive(claimName(number), bytes))) {
    await rollForwardClaim(store, number);
    throw lostRace(store, number);
  }
  try {
    // a commit at this number that is not ours means another writer got there first; ours may
    // already be there if another writer rolled our claim forward (and later ones on top of it:
    // only this number tells, else a published commit would be reported lost and made again)
    const taken = (await listCommits(store)).find((c) => c.number === number);
    if (taken !== undefined && taken.file !== file) throw lostRace(store, number);
    await store.createExclusive(file, bytes);
  } finally {
    await store.remove(claimName(number));
  }
  return file;
}

async function requireParent(store: ManifestStore, number: number): Promise<void> {
  const latest = (await listCommits(store)).at(-1)?.number ?? 0;
  if (latest === number - 1) return;
  if (latest < number - 1) await rollForwardClaim(store, latest + 1);
  throw lostRace(store, number);
}

/** A temporary file this old can only be a crashed writer's. */
const STALE_TEMPORARY_MS = 10 * 60_000;

/**
 * Removes what killed writers leave behind: temporary files, and claims for numbers already
 * published (the writer died between linking its commit and dropping the claim).
 */
async function removeLeftovers(store: ManifestStore): Promise<void> {
  await store.removeStaleTemporaries(STALE_TEMPORARY_MS);
  const latest = (await listCommits(store)).at(-1)?.number ?? 0;
  for (const name of await store.list()) {
    const claimed = /^\.claim-(\d+)$/.exec(name);
    if (claimed && Number(claimed[1]) <= latest) await store.remove(name);
  }
}

/** Publishes a claim whose writer died after claiming, so its commit is not lost. */
async function rollForwardClaim(store: ManifestStore, number: number): Promise<void> {
  const bytes = await store.read(claimName(number));
  if (bytes === undefined) return;
  if (!(await listCommits(store)).some((c) => c.number === number)) {
    await store.createExclusive(commitFileName(number, bytes), bytes);
  }
  await store.remove(claimName(number));
}

function lostRace(store: ManifestStore, number: number) {
  return conflict(
    `Commit conflict on ${store.url}: version ${String(number).padStart(5, '0')} was committed by another writer; reopen the bundle and apply your changes again`,
  );
}
