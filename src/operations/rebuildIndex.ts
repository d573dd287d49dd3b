import type { PlanState } from '../plan/state.js';
import { field, type ManifestOp, type Operation } from './operation.js';

/** Forgets an index's files; the `indexBlocks` that follow hold the rebuilt ones. */
export class RebuildIndex implements Operation {
  readonly type = 'rebuildIndex';

  constructor(readonly id: string, readonly column: string) {}

  static fromManifest(op: ManifestOp): RebuildIndex {
    return new RebuildIndex(field(op, 'id'), String(op.column ?? ''));
  }

  describe(): string {
    return `Rebuild index on ${this.column}`;
  }

  toManifest(): ManifestOp {
    return { type: this.type, id: this.id, column: this.column };
  }

  apply(state: PlanState): void {
    const index = state.indexes.get(this.id);
    if (index) index.files = [];
  }
}
