import { ioError } from '../errors.js';
import { PlanState } from '../plan/state.js';
import { field, type ManifestOp, type Operation } from './operation.js';

/**
 * Makes an earlier version's pipeline the current one (like Delta Lake's RESTORE TABLE … TO
 * VERSION AS OF): the commits in between stay in the history. The manifest records the version
 * only; whoever loads the bundle binds it to that version's operations (load.ts), which replay
 * then rebuilds in place of the current state.
 */
export class Restore implements Operation {
  readonly type = 'restore';
  /** A view follows its parent's pipeline: restore the parent instead. */
  static readonly allowedOnView = false;
  private target: readonly Operation[] | undefined;

  /** `version`: 12 hex of the commit restored; `number`: its commit number, for describing it. */
  constructor(readonly version: string, readonly number?: number) {}

  static fromManifest(op: ManifestOp): Restore {
    const number = op.number;
    return new Restore(field(op, 'version'), typeof number === 'number' ? number : undefined);
  }

  /** Binds the operations in effect at the restored version (they precede this one in the history). */
  bind(operations: readonly Operation[]): this {
    this.target = operations;
    return this;
  }

  describe(): string {
    return `Restore version ${this.version}${this.number === undefined ? '' : ` (commit ${this.number})`}`;
  }

  toManifest(): ManifestOp {
    return this.number === undefined ? { type: this.type, version: this.version } : { type: this.type, version: this.version, number: this.number };
  }

  apply(state: PlanState): void {
    if (!this.target) throw ioError(`restore of version ${this.version} was not bound to that version's operations`);
    const restored = new PlanState();
    for (const op of this.target) op.apply(restored);
    state.resetTo(restored);
  }
}
