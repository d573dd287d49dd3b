import { randomUUID } from 'node:crypto';
import { Bundle } from './bundle/bundle.js';
import { BundleBuilder } from './bundle/builder.js';
import { BuilderChain } from './bundle/chain.js';
import { loadBundle, newBundle, type OpenOptions } from './bundle/load.js';
import { invalidArgument } from './errors.js';
import { readInit } from './manifest/commits.js';
import { requireNonEmpty } from './storage/location.js';
import { storeFor } from './storage/store.js';

export { Bundle } from './bundle/bundle.js';
export { BundleBuilder, type AttachOptions } from './bundle/builder.js';
export { BuilderChain } from './bundle/chain.js';
export type { OpenOptions } from './bundle/load.js';
export type { Trust } from './bundle/load.js';
export type { Change, Commit, CountOptions, Diff, ExportFormat, ExportOptions, OperationInfo, Progress, ProgressListener, SchemaChange, Status, StreamOptions } from './bundle/types.js';
export { BundlebaseError, type ErrorCode } from './errors.js';
export { serve, type ServeOptions, type Servers } from './server/index.js';
export type { ParamValue } from './engine/params.js';
export type { FunctionDefinition, FunctionPage, SourceFunction } from './engine/functions.js';

/**
 * Starts a new bundle at `path` (a directory, `file://` URL or `memory:///name`); without a path,
 * an in-memory bundle. The directory is created at the first commit.
 */
export function create(path?: string): BuilderChain {
  return new BuilderChain(
    (async () => {
      const url = path === undefined ? `memory:///${randomUUID()}` : requireNonEmpty(path, 'Bundle path');
      const store = storeFor(url);
      if (await readInit(store)) {
        throw invalidArgument(`A bundle already exists at ${store.url}; open() it, then extend() to change it`);
      }
      return new BundleBuilder(newBundle(store, randomUUID()));
    })(),
  );
}

/** Opens a committed bundle for reading (optionally as of a past version). */
export async function open(url: string, options: OpenOptions = {}): Promise<Bundle> {
  return new Bundle(await loadBundle(requireNonEmpty(url, 'Bundle URL'), options));
}
