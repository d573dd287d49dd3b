import type { PlanState } from '../plan/state.js';
import { field, type ManifestOp, type Operation } from './operation.js';

/** Declares a pack (a group of unioned sources); the first one is the bundle's base. */
export class DefinePack implements Operation {
  readonly type = 'definePack';
  /** Views are read-only projections of their parent: they cannot add sources or views. */
  static readonly allowedOnView = false;

  constructor(readonly id: string) {}

  static fromManifest(op: ManifestOp): DefinePack {
    return new DefinePack(field(op, 'id'));
  }

  describe(): string {
    return `Define pack ${this.id}`;
  }

  toManifest(): ManifestOp {
    return { type: this.type, id: this.id };
  }

  apply(state: PlanState): void {
    if (!state.packs.has(this.id)) state.packs.set(this.id, []);
    state.basePackId ??= this.id;
  }
}
