import { PlanState } from '../plan/state.js';
import { AttachBlock } from './attachBlock.js';
import type { Operation } from './operation.js';
import { ReplaceBlock } from './replaceBlock.js';

/**
 * The blocks attached once `operations` are replayed, as recorded (attachBlock or the new block of
 * a replaceBlock), in recording order: a detached or replaced block is not among them, so its source
 * is neither checked, trusted, indexed nor read.
 */
export function attachedBlocks(operations: readonly Operation[]): AttachBlock[] {
  const state = new PlanState();
  for (const op of operations) op.apply(state);
  const live = new Set([...state.packs.values()].flat().map((b) => b.id));
  return recordedBlocks(operations).filter((b) => live.has(b.fields.id));
}

/** Every block `operations` attach (attachBlock, and the new block of each replaceBlock), live or not. */
export function recordedBlocks(operations: readonly Operation[]): AttachBlock[] {
  return operations.flatMap((op) => (op instanceof AttachBlock ? [op] : op instanceof ReplaceBlock ? [op.block] : []));
}
