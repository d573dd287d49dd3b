import type { PlanState } from '../plan/state.js';
import { quoteIdent } from '../plan/sql.js';
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
    const excluded = this.names.map(quoteIdent).join(', ');
    state.steps.push({
      sql: (prev) => `SELECT * EXCLUDE (${excluded}) FROM ${prev}`,
      params: [],
      changesRows: false,
    });
  }
}
