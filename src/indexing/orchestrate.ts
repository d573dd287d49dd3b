import { mkdir } from 'node:fs/promises';
import type { EngineConnection, ProgressListener } from '../engine/engine.js';
import type { AttachBlock } from '../operations/attachBlock.js';
import type { IndexBlocks } from '../operations/indexBlocks.js';
import type { PlanState } from '../plan/state.js';
import { buildIndex } from './build.js';

/** The index id on `column`, if any. */
export function indexOn(state: PlanState, column: string): string | undefined {
  return [...state.indexes].find(([, index]) => index.column === column)?.[0];
}

/**
 * Builds index `id` on `column` over `blocks`, writing its file into `dir`: the bundle's directory,
 * or where an in-memory or bucket bundle keeps its stored data (removed with it, see
 * bundle/stored.ts); undefined when no block can be indexed.
 */
export async function buildIndexFiles(
  connection: EngineConnection,
  dir: string,
  id: string,
  column: string,
  blocks: readonly AttachBlock[],
  onProgress?: ProgressListener,
): Promise<IndexBlocks | undefined> {
  await mkdir(dir, { recursive: true });
  return buildIndex(connection, id, column, blocks, dir, { baseDir: dir }, onProgress);
}

/** For each index, the blocks attached (or changed) since it was built. */
export function unindexedBlocks(state: PlanState, blocks: readonly AttachBlock[]): { id: string; column: string; blocks: AttachBlock[] }[] {
  return [...state.indexes].map(([id, index]) => {
    const covered = new Set(index.files.flatMap((f) => f.blocks.map((b) => `${b.id}@${b.version}`)));
    return { id, column: index.column, blocks: blocks.filter((b) => !covered.has(`${b.fields.id}@${b.fields.version ?? ''}`)) };
  });
}
