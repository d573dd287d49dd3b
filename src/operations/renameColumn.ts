import type { PlanState } from '../plan/state.js';
import { field, requireColumns, requireFreeName, type CheckContext, type ManifestOp, type Operation } from './operation.js';

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

  async check(context: CheckContext): Promise<void> {
    await requireColumns(context, [this.oldName], `rename column '${this.oldName}'`);
    // renaming to `AMOUNT` beside `amount` would silently rename the other column to `amount_1`
    await requireFreeName(context, this.newName, `rename column '${this.oldName}' to '${this.newName}'`, this.oldName);
  }

  apply(state: PlanState): void {
    state.steps.push({ kind: 'renameColumn', from: this.oldName, to: this.newName });
  }
}
