import { BundlebaseError } from '../errors.js';
import type { EngineDatabase } from '../engine/engine.js';
import { ensureTableFunction } from '../engine/functions.js';
import { functionName } from '../operations/attachBlock.js';
import { attachedBlocks } from '../operations/blocks.js';
import type { Operation } from '../operations/operation.js';
import type { PlanState } from '../plan/state.js';
import type { Settings } from '../storage/config.js';
import { sameStamp, stampFile } from '../storage/location.js';
import { isRemoteObject, localCopy } from '../storage/remote.js';

/** Registers the function sources of `operations` on `database`, which will read them. */
export async function registerFunctions(operations: readonly Operation[], database: EngineDatabase): Promise<void> {
  const functions = attachedBlocks(operations).filter((op) => op.format === 'function');
  for (const op of functions) await ensureTableFunction(functionName(op.source), database);
}

/**
 * Refuses to read a bundle whose local source files changed or vanished since they were attached:
 * the data would silently differ from what was committed.
 */
export async function verifySources(operations: readonly Operation[]): Promise<void> {
  const checks = attachedBlocks(operations)
    .filter((op) => op.format !== 'function' && op.fields.version !== undefined)
    .filter((op) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(op.location))
    .map(async (op) => {
      const stamp = await stampFile(op.location);
      if (!sameStamp(op.fields.version ?? '', stamp.version)) {
        throw new BundlebaseError(
          'SOURCE_CHANGED',
          `Source '${op.source}' (${op.location}) changed since it was attached (recorded ${op.fields.version}, now ${stamp.version}); put the original back, replace it with replace(source, url) (command line: bundlebase replace), or detach it`,
        );
      }
    });
  await Promise.all(checks);
}

/** Index files of a bundle in a bucket or on a web server, fetched into the cache (once: they never change) and read there. */
export async function fetchIndexFiles(state: PlanState, settings: Settings): Promise<void> {
  for (const index of state.indexes.values()) {
    for (const entry of index.files) if (isRemoteObject(entry.file)) entry.file = (await localCopy(entry.file, settings)).file;
  }
}
