import type { PlanState } from '../plan/state.js';
import { field, type ManifestOp, type Operation } from './operation.js';

/** Names a view stored as `view_<viewId>/`, a bundle extending this one. */
export class CreateView implements Operation {
  readonly type = 'createView';
  /** Views are read-only projections of their parent: they cannot add sources or views. */
  static readonly allowedOnView = false;

  constructor(readonly name: string, readonly viewId: string) {}

  static fromManifest(op: ManifestOp): CreateView {
    return new CreateView(field(op, 'name'), field(op, 'viewId'));
  }

  describe(): string {
    return `Create view ${this.name}`;
  }

  toManifest(): ManifestOp {
    return { type: this.type, name: this.name, viewId: this.viewId };
  }

  apply(state: PlanState): void {
    state.views.set(this.viewId, this.name);
  }
}
