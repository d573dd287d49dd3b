import { stat } from 'node:fs/promises';
import path from 'node:path';
import { invalidArgument } from '../errors.js';
import { recordedBlocks } from '../operations/blocks.js';
import { writeArchive } from '../storage/archive.js';
import { isInside, requireNonEmpty, schemeOf } from '../storage/location.js';
import { allCommits, committedOperations, type LoadedBundle } from './load.js';
import { verifySources } from './sources.js';

export interface ExportTarOptions {
  /** gzip the archive (default: when the name ends in .gz or .tgz). */
  gzip?: boolean;
}

/**
 * Packs the committed bundle into one archive: every directory of its from-chain whole (manifests,
 * views, index and stored files) and the local files of its referenced sources, in every version
 * (function sources travel as their recorded signature). Refuses a changed source first: the
 * archive would carry different data than the bundle committed.
 */
export async function exportArchive(loaded: LoadedBundle, target: string, options: ExportTarOptions = {}): Promise<void> {
  const file = path.resolve(requireNonEmpty(target, 'Archive path'));
  if (options.gzip !== undefined && typeof options.gzip !== 'boolean') throw invalidArgument('gzip must be true or false');
  const chain: LoadedBundle[] = [];
  for (let b: LoadedBundle | undefined = loaded; b; b = b.parent) chain.push(b);
  const memory = chain.find((b) => !b.store.dir);
  if (memory) throw invalidArgument(`Bundle ${memory.url} is in memory: create it in a directory to export it as an archive`);
  if (!loaded.init) throw invalidArgument(`Bundle ${loaded.url} is not committed yet: commit it before exporting it`);
  await verifySources(committedOperations(loaded));
  const directories = outermost(chain.map((b) => b.store.dir!));
  const files = new Set<string>();
  const stamps = new Map<string, string>();
  for (const block of recordedBlocks(allCommits(loaded).flatMap((c) => c.changes.flat()))) {
    const location = block.location;
    if (block.format === 'function' || schemeOf(location) !== undefined) continue;
    // a source only older versions read may be gone (the current ones were checked above)
    if (!(await stat(location).then((s) => s.isFile(), () => false))) continue;
    // a referenced source keeps its recorded stamp when unpacked (a stored copy is checked by its hash)
    if (block.fields.version !== undefined && !block.stored) stamps.set(location, block.fields.version);
    if (!directories.some((d) => isInside(location, d))) files.add(location);
  }
  const base = loaded.archive?.root ?? '/';
  await writeArchive(file, { base, directories, files: [...files], bundle: loaded.store.dir!, stamps }, options.gzip ?? /\.(gz|tgz)$/i.test(file));
}

/** The directories not inside another one of the list (a view's parent holds it already). */
function outermost(dirs: string[]): string[] {
  const unique = [...new Set(dirs)];
  return unique.filter((d) => !unique.some((o) => isInside(d, o)));
}
