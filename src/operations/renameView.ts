import type { PlanState } from '../plan/state.js';
import { field, type ManifestOp, type Operation } from './operation.js';

/** Renames a view (by id, as the original bundlebase records it). */
export class RenameView implements Operation {
  readonly type = 'renameView';
  /** Views are read-only projections of their parent: they cannot add sources or views. */
  static readonly allowedOnView = false;

  constructor(readonly id: string, readonly newName: string) {}

  static fromManifest(op: ManifestOp): RenameView {
    return new RenameView(field(op, 'id'), field(op, 'newName'));
  }

  describe(): string {
    return `Rename view ${this.id} to ${this.newName}`;
  }

  toManifest(): ManifestOp {
    return { type: this.type, id: this.id, newName: this.newName };
  }

  apply(state: PlanState): void {
    state.views.set(this.id, this.newName);
  }
}
