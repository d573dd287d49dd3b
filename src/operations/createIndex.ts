import type { PlanState } from '../plan/state.js';
import { field, type ManifestOp, type Operation } from './operation.js';

/** Declares an index on a column; its files come with the `indexBlocks` that follow. */
export class CreateIndex implements Operation {
  readonly type = 'createIndex';

  constructor(readonly column: string, readonly id: string) {}

  static fromManifest(op: ManifestOp): CreateIndex {
    return new CreateIndex(field(op, 'column'), field(op, 'id'));
  }

  describe(): string {
    return `Create index on ${this.column}`;
  }

  toManifest(): ManifestOp {
    return { type: this.type, column: this.column, id: this.id };
  }

  apply(state: PlanState): void {
    state.indexes.set(this.id, { column: this.column, files: [] });
  }
}
