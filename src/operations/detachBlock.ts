import { invalidArgument } from '../errors.js';
import type { PlanState } from '../plan/state.js';
import { compact, field, optionalString, type ManifestOp, type Operation } from './operation.js';

/** Removes an attached block (upstream's `detachBlock{id}`; `source` is kept for describing it). */
export class DetachBlock implements Operation {
  readonly type = 'detachBlock';
  /** Views are read-only projections of their parent: they cannot change its sources. */
  static readonly allowedOnView = false;

  constructor(readonly id: string, readonly source?: string) {}

  static fromManifest(op: ManifestOp): DetachBlock {
    return new DetachBlock(field(op, 'id'), optionalString(op, 'source'));
  }

  describe(): string {
    return `Detach ${this.source ?? `block ${this.id}`}`;
  }

  toManifest(): ManifestOp {
    return compact({ type: this.type, id: this.id, source: this.source });
  }

  apply(state: PlanState): void {
    const found = state.findBlock(this.id);
    if (!found) throw invalidArgument(`detachBlock refers to block '${this.id}', which is not attached`);
    found.blocks.splice(found.at, 1);
    state.forgetIndexed(this.id);
  }
}
