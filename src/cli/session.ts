import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import type { Bundle, BundleBuilder } from '../bundle/builder.js';
import type { StatementWriter } from '../bundle/execute.js';
import type { Trust } from '../bundle/load.js';
import type { AttachOptions } from '../bundle/inspect.js';
import type { BundleBase } from '../bundle/base.js';
import { create, open } from '../bundle/open.js';
import { BundlebaseError } from '../errors.js';
import type { StagedChange } from '../bundle/commit.js';
import { archiveFileOf } from '../storage/archive.js';
import { isInside, localPath, schemeOf } from '../storage/location.js';

/**
 * Uncommitted changes made by one-shot commands wait in `<bundle>/.bundlebase-staged.yaml` (like
 * git's index) until `bundlebase commit`; `status`, `undo` and `reset` work on them.
 */
const STAGED_FILE = '.bundlebase-staged.yaml';

function stagedPath(bundle: string): string {
  const dir = localPath(bundle);
  if (!dir) throw new BundlebaseError('INVALID_ARGUMENT', `The command line works on local bundles; '${bundle}' is not a path`);
  return path.join(dir, STAGED_FILE);
}

let trust: Trust | undefined;

/** What bundles opened by this command may read beyond their own directories (--trust, --trust-path). */
export function setTrust(value: Trust | undefined): void {
  trust = value;
}

export function currentTrust(): Trust | undefined {
  return trust;
}

/** The bundle at `bundle` with its staged changes applied: what commands read and change. */
export async function openWorking(bundle: string): Promise<BundleBuilder> {
  const file = stagedPath(bundle);
  const builder = await (await open(bundle, { trust })).extend();
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text !== undefined) {
    const staged = YAML.parse(text) as { changes?: StagedChange[] } | null;
    builder.restoreChanges(staged?.changes ?? [], file);
  }
  return builder;
}

/**
 * What read commands read: the working state, or a packed archive or a remote bundle (`s3://`,
 * `azure://`, `https://`; configured from the environment) as it is: those have no staged changes.
 */
export async function openReadable(bundle: string): Promise<Bundle | BundleBuilder> {
  return isLocalBundle(bundle) ? openWorking(bundle) : open(bundle, { trust });
}

/** The committed bundle (staged changes are not part of it), read-only. */
export async function openCommitted(bundle: string): Promise<Bundle> {
  return open(bundle, { trust });
}

/** The committed bundle as of `version` (12 hex or a commit number), read-only. */
export async function openAt(bundle: string, version: string): Promise<Bundle> {
  return open(bundle, { version: /^\d+$/.test(version) ? Number(version) : version, trust });
}

/**
 * The REPL's bundle: a local one with its staged changes, or a bundle in a bucket as committed
 * (its COMMIT publishes there directly; there is nowhere to stage changes).
 */
export async function openShell(bundle: string): Promise<BundleBuilder> {
  return isLocalBundle(bundle) ? openWorking(bundle) : (await open(bundle, { trust })).extend();
}

/** Whether the command line can stage changes for `bundle`: a local directory, not an archive. */
export function isLocalBundle(bundle: string): boolean {
  return archiveFileOf(bundle) === undefined && localPath(bundle) !== undefined;
}

/** Saves the builder's uncommitted changes for the next command (removes the file when none). */
export async function saveWorking(bundle: string, builder: BundleBuilder): Promise<void> {
  const changes = await builder.stagedChanges();
  const file = stagedPath(bundle);
  if (changes.length === 0) await rm(file, { force: true });
  else await writeFile(file, YAML.stringify({ changes }, { lineWidth: 0 }));
}

/** Creates an empty bundle on disk (its init manifest), ready for attach. */
export async function createBundle(bundle: string): Promise<BundleBuilder> {
  const builder = await create(bundle);
  await builder.initialize();
  return builder;
}

/**
 * A source path as a command line means it: from the current directory. The library resolves
 * relative paths against the bundle, so it is given one relative to the bundle when the file lies
 * inside the bundle's directory (the bundle can then move), else the absolute path; URLs as typed.
 */
export function sourceArgument(bundle: string, url: string): string {
  if (schemeOf(url) !== undefined) return url;
  const file = path.resolve(url);
  const dir = localPath(bundle);
  return dir !== undefined && isInside(file, dir) ? path.relative(dir, file) : file;
}

/**
 * `writer` with the files its statements name (ATTACH, REPLACE … WITH, JOIN) read from the current
 * directory, as the one-shot commands' arguments are (the REPL and `exec` are a command line too).
 * A Proxy, so every other method passes through unchanged, bound to the builder itself.
 */
export function pathsFromCurrentDirectory<View extends BundleBase>(bundle: string, writer: StatementWriter<View>): StatementWriter<View> {
  return new Proxy(writer, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      const method = (value as (...args: unknown[]) => unknown).bind(target);
      switch (property) {
        case 'attach':
          return (url: string, options: AttachOptions) => method(sourceArgument(bundle, url), options);
        case 'replace':
          return (source: string, url: string, options: AttachOptions) => method(source, sourceArgument(bundle, url), options);
        case 'join':
          return (name: string, url: string, ...rest: unknown[]) => method(name, sourceArgument(bundle, url), ...rest);
        default:
          return method;
      }
    },
  });
}
