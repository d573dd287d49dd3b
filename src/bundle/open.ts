import { stat } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { invalidArgument } from '../errors.js';
import { readInit } from '../manifest/commits.js';
import { requireNonEmpty } from '../storage/location.js';
import { archiveFileOf, unpackArchive } from '../storage/archive.js';
import { isRemoteObject, localCopy } from '../storage/remote.js';
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
 * (`x.tar`, `x.tar.gz`, `tar+file://…`; also in a bucket or on a web server, `s3://bucket/x.tar`,
 * `https://host/x.tar.gz`, downloaded into the cache first) is unpacked once into the cache and
 * opened read-only.
 */
export async function open(url: string, options: OpenOptions = {}): Promise<Bundle> {
  const remoteArchive = remoteArchiveOf(requireNonEmpty(url, 'Bundle URL'));
  if (remoteArchive !== undefined) {
    const copy = await localCopy(remoteArchive, Settings.from(options.config));
    const { root, bundle } = await unpackArchive(copy.file);
    return new Bundle(await loadBundle(bundle, options, { file: remoteArchive, root }));
  }
  const file = archiveFileOf(url);
  // a bundle directory may be named like an archive
  if (file === undefined || (await stat(file).then((s) => s.isDirectory(), () => false))) return new Bundle(await loadBundle(url, options));
  const { root, bundle } = await unpackArchive(file);
  return new Bundle(await loadBundle(bundle, options, { file, root }));
}

/** The url of an archive in a bucket or on a web server (`s3://b/x.tar`, `tar+https://…/x.tgz`), if `url` names one. */
function remoteArchiveOf(url: string): string | undefined {
  const plain = url.replace(/^tar\+/i, '');
  return isRemoteObject(plain) && /\.(tar|tar\.gz|tgz)$/i.test(plain) ? plain : undefined;
}
