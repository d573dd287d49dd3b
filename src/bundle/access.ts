import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { privateTempDir, type FileAccess } from '../engine/engine.js';
import { BundlebaseError } from '../errors.js';
import { attachedBlocks } from '../operations/blocks.js';
import type { Operation } from '../operations/operation.js';
import { isInside as inside, schemeOf } from '../storage/location.js';
import { isRemoteObject, localCopy, storedCopy } from '../storage/remote.js';
import { isTrustedSource } from '../storage/trust.js';
import { chainSettings, type LoadedBundle, type Trust } from './load.js';

/**
 * The directories of a bundle and of the chain it extends (views live inside their parent); for a
 * bundle unpacked from an archive, the whole unpacked archive (its packed sources included).
 */
function bundleDirectories(loaded: LoadedBundle): string[] {
  if (loaded.archive) return [loaded.archive.root];
  const dirs: string[] = [];
  for (let b: LoadedBundle | undefined = loaded; b; b = b.parent) if (b.store.dir) dirs.push(b.store.dir);
  return dirs;
}

const isDirectory = (p: string) => stat(p).then((s) => s.isDirectory(), () => false);

/** The real path (symlinks resolved), or the path itself when it does not exist (yet). */
const real = (p: string) => realpath(p).catch(() => path.resolve(p));

/**
 * The files a bundle's SQL may read: its own directories, the process's private temp directory,
 * and each source outside them that is trusted — by `trust`, or because this user attached it on
 * this machine (the trust store). Any other source is refused with UNTRUSTED, naming it and saying
 * how to allow it. `extraFiles` are added as they are (a source being attached, an export target).
 */
export async function readAccess(
  loaded: LoadedBundle,
  operations: readonly Operation[],
  trust: Trust | undefined,
  extraFiles: readonly string[] = [],
): Promise<FileAccess | 'unrestricted'> {
  if (trust === true) return 'unrestricted';
  const directories = bundleDirectories(loaded);
  const settings = chainSettings(loaded, operations);
  const realDirectories = await Promise.all(directories.map(real));
  const trusted = await Promise.all((trust || []).map((t) => real(path.resolve(t))));
  const files = new Set(extraFiles);
  const trustedDirectories: string[] = [];
  // whatever the reader trusts is readable, by sources and by the bundle's SQL alike
  for (const t of trusted) {
    if (await isDirectory(t)) trustedDirectories.push(t);
    else files.add(t);
  }
  for (const op of attachedBlocks(operations)) {
    if (op.format === 'function') continue;
    const location = op.location;
    if (isRemoteObject(location)) {
      // fetched into the content cache (once per version), checked against the recorded version
      const hash = op.stored ? op.fields.hash : undefined;
      files.add(hash !== undefined ? await storedCopy(location, settings, hash) : (await localCopy(location, settings, op.fields.version)).file);
      continue;
    }
    if (schemeOf(location) !== undefined) throw untrusted(loaded, op.source, location, 'is a URL of a kind bundlebase cannot read');
    const resolved = await real(location);
    if (realDirectories.some((d) => inside(resolved, d))) continue;
    // an in-memory bundle's stored copies live in the process's private temporary directory
    if (op.stored && inside(resolved, await real(privateTempDir()))) continue;
    if (trusted.some((t) => t === resolved || inside(resolved, t)) || (await isTrustedSource(location))) {
      files.add(location);
      if (resolved !== location) files.add(resolved);
      continue;
    }
    throw untrusted(loaded, op.source, location, "is outside the bundle's directories and not among your trusted sources");
  }
  return { directories: [...directories, ...trustedDirectories, privateTempDir()], files: [...files] };
}

function untrusted(loaded: LoadedBundle, source: string, location: string, why: string): BundlebaseError {
  const shown = source === location ? `'${source}'` : `'${source}' (${location})`;
  return new BundlebaseError(
    'UNTRUSTED',
    `Bundle ${loaded.url} reads source ${shown}, which ${why}. If you trust this bundle, open it with ` +
      `{ trust: ['${location}'] } or { trust: true } (command line: --trust-path '${location}' or --trust)`,
  );
}
