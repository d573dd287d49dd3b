import type { PlanState } from '../plan/state.js';
import { field, type ManifestOp, type Operation } from './operation.js';

/** Drops a view from the bundle's list (its directory stays, so older versions still open it). */
export class DropView implements Operation {
  readonly type = 'dropView';
  /** Views are read-only projections of their parent: they cannot add sources or views. */
  static readonly allowedOnView = false;

  constructor(readonly id: string) {}

  static fromManifest(op: ManifestOp): DropView {
    return new DropView(field(op, 'id'));
  }

  describe(): string {
    return `Drop view ${this.id}`;
  }

  toManifest(): ManifestOp {
    return { type: this.type, id: this.id };
  }

  apply(state: PlanState): void {
    state.views.delete(this.id);
  }
}
