import type { PlanState } from '../plan/state.js';
import { field, type ManifestOp, type Operation } from './operation.js';

/** Renames a column in place (its position is kept). */
export class RenameColumn implements Operation {
  readonly type = 'renameColumn';

  constructor(readonly oldName: string, readonly newName: string) {}

  static fromManifest(op: ManifestOp): RenameColumn {
    return new RenameColumn(field(op, 'oldName'), field(op, 'newName'));
  }

  describe(): string {
    return `Rename column ${this.oldName} to ${this.newName}`;
  }

  toManifest(): ManifestOp {
    return { type: this.type, oldName: this.oldName, newName: this.newName };
  }

  apply(state: PlanState): void {
    state.steps.push({ kind: 'renameColumn', from: this.oldName, to: this.newName });
  }
}
