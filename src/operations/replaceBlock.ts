import { invalidArgument } from '../errors.js';
import type { PlanState } from '../plan/state.js';
import { AttachBlock } from './attachBlock.js';
import { compact, field, optionalRecord, optionalString, type ManifestOp, type Operation, type ReplayContext } from './operation.js';

/**
 * Swaps an attached block for another source, in its place in the same pack. Upstream's
 * `replaceBlock{id, newLocation}`; `block` holds what attach recorded about the new source (its
 * own id, stamp, counts, schema, stored copy…) and `source` the replaced one, for describing it.
 */
export class ReplaceBlock implements Operation {
  readonly type = 'replaceBlock';
  /** Views are read-only projections of their parent: they cannot change its sources. */
  static readonly allowedOnView = false;

  constructor(readonly id: string, readonly block: AttachBlock, readonly source?: string) {}

  static fromManifest(op: ManifestOp, context: ReplayContext): ReplaceBlock {
    const block = optionalRecord(op, 'block') ?? {};
    const attach = AttachBlock.fromManifest({ ...block, type: 'attachBlock', source: field(op, 'newLocation') }, context);
    return new ReplaceBlock(field(op, 'id'), attach, optionalString(op, 'source'));
  }

  describe(): string {
    return `Replace ${this.source ?? `block ${this.id}`} with ${this.block.source}`;
  }

  toManifest(): ManifestOp {
    const { type: _type, source: _source, ...block } = this.block.toManifest();
    return compact({ type: this.type, id: this.id, newLocation: this.block.source, source: this.source, block });
  }

  apply(state: PlanState): void {
    const found = state.findBlock(this.id);
    if (!found) throw invalidArgument(`replaceBlock refers to block '${this.id}', which is not attached`);
    found.blocks[found.at] = this.block.sourceBlock();
    state.forgetIndexed(this.id);
    state.inheritScope(this.id, this.block.fields.id);
  }
}
