import { stat } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { invalidArgument } from '../errors.js';
import { readInit } from '../manifest/commits.js';
import { requireNonEmpty } from '../storage/location.js';
import { archiveFileOf, unpackArchive } from '../storage/archive.js';
import { Settings, type ConfigInput } from '../storage/config.js';
import { requireWritable, storeFor } from '../storage/store.js';

import { Bundle, BundleBuilder, BuilderChain } from './builder.js';
import { loadBundle, newBundle, type OpenOptions } from './load.js';

export interface CreateOptions {
  /** Storage configuration for this session, as for open(). */
  config?: ConfigInput;
}

/**
 * Starts a new bundle at `path` (a directory, `file://` URL, `memory:///name`, `s3://bucket/prefix`
 * or `azure://container/prefix`); without a path, an in-memory bundle. Nothing is written before
 * the first commit.
 */
export function create(path?: string, options: CreateOptions = {}): BuilderChain {
  return new BuilderChain(
    (async () => {
      const url = path === undefined ? `memory:///${randomUUID()}` : requireNonEmpty(path, 'Bundle path');
      const store = requireWritable(storeFor(url, Settings.from(options.config)));
      if (await readInit(store)) {
        throw invalidArgument(`A bundle already exists at ${store.url}: open it and extend it to change it (on the command line, run attach, filter, … on it directly)`);
      }
      return new BundleBuilder(newBundle(store, randomUUID()));
    })(),
  );
}

/**
 * Opens a committed bundle for reading (optionally as of a past version). A packed archive
 * (`x.tar`, `x.tar.gz`, `tar+file://…`) is unpacked once into the cache and opened read-only.
 */
export async function open(url: string, options: OpenOptions = {}): Promise<Bundle> {
  const file = archiveFileOf(requireNonEmpty(url, 'Bundle URL'));
  // a bundle directory may be named like an archive
  if (file === undefined || (await stat(file).then((s) => s.isDirectory(), () => false))) return new Bundle(await loadBundle(url, options));
  const { root, bundle } = await unpackArchive(file);
  return new Bundle(await loadBundle(bundle, options, { file, root }));
}
