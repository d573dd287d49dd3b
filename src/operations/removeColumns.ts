import type { PlanState } from '../plan/state.js';
import { invalidArgument } from '../errors.js';
import type { ManifestOp, Operation } from './operation.js';

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

  apply(state: PlanState): void {
    state.steps.push({ kind: 'excludeColumns', names: this.names });
  }
}
