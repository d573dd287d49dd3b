import type { PlanState } from '../plan/state.js';
import { invalidArgument } from '../errors.js';
import { requireColumns, type CheckContext, type ManifestOp, type Operation } from './operation.js';

/** Drops columns, keeping the others in order. */
export class RemoveColumns implements Operation {
  readonly type = 'removeColumns';

  constructor(readonly names: readonly string[]) {}

  static fromManifest(op: ManifestOp): RemoveColumns {
    const names = op.names;
    if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) {
      throw invalidArgument(`Operation 'removeColumns' needs a 'names' list of strings`);
    }
    return new RemoveColumns(names as string[]);
  }

  describe(): string {
    return this.names.length === 1
      ? `Remove column ${this.names[0]}`
      : `Remove columns ${this.names.join(', ')}`;
  }

  toManifest(): ManifestOp {
    return { type: this.type, names: [...this.names] };
  }

  async check(context: CheckContext): Promise<void> {
    if (this.names.length === 0) throw invalidArgument('removeColumns needs at least one column name');
    const what = this.names.length === 1 ? 'column' : 'columns';
    await requireColumns(context, this.names, `remove ${what} ${this.names.join(', ')}`);
  }

  apply(state: PlanState): void {
    state.steps.push({ kind: 'excludeColumns', names: this.names });
  }
}
