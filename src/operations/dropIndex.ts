import type { PlanState } from '../plan/state.js';
import { field, type ManifestOp, type Operation } from './operation.js';

/** Removes an index (its files stay, so older versions keep using them). */
export class DropIndex implements Operation {
  readonly type = 'dropIndex';

  constructor(readonly id: string, readonly column: string) {}

  static fromManifest(op: ManifestOp): DropIndex {
    return new DropIndex(field(op, 'id'), String(op.column ?? ''));
  }

  describe(): string {
    return `Drop index on ${this.column}`;
  }

  toManifest(): ManifestOp {
    return { type: this.type, id: this.id, column: this.column };
  }

  apply(state: PlanState): void {
    state.indexes.delete(this.id);
  }
}
