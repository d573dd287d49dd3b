import type { ParamValue } from '../engine/params.js';
import { invalidArgument } from '../errors.js';
import type { PlanState } from '../plan/state.js';
import { compact, field, paramsField, requireParamCount, requireSources, type CheckContext, type ManifestOp, type Operation } from './operation.js';

/** What the two deletes share: a SQL condition with bound `$n` values. Rows where it is NULL stay. */
abstract class RowDeletion implements Operation {
  abstract readonly type: 'delete' | 'alwaysDelete';

  constructor(readonly where: string, readonly parameters: readonly ParamValue[]) {}

  describe(): string {
    return `${this.type === 'alwaysDelete' ? 'Always delete' : 'Delete'} rows where ${this.where}`;
  }

  toManifest(): ManifestOp {
    return compact({ type: this.type, where: this.where, parameters: this.parameters.length > 0 ? [...this.parameters] : undefined });
  }

  check(context: CheckContext): void {
    requireSources(context, 'delete from');
    requireParamCount(this.where, this.parameters);
  }

  abstract apply(state: PlanState): void;
}

/**
 * Drops the matching rows of the data present when it is recorded: the blocks attached before it
 * (and any block replacing one of them). Recorded, never written: the files stay as they are.
 */
export class Delete extends RowDeletion {
  readonly type = 'delete';

  static fromManifest(op: ManifestOp): Delete {
    if (op.where === undefined && op.tombstone !== undefined) {
      throw invalidArgument(`it keeps its rows in a tombstone file ('${String(op.tombstone)}') without their condition, which this version does not read`);
    }
    // upstream writes `where` beside its tombstone file of row ids: the condition is what is replayed
    return new Delete(field(op, 'where'), paramsField(op));
  }

  apply(state: PlanState): void {
    state.steps.push({ kind: 'deleteRows', predicate: this.where, params: this.parameters, blocks: state.baseBlockIds() });
  }
}

/** Drops the matching rows of every source, also those attached later (upstream's ALWAYS DELETE). */
export class AlwaysDelete extends RowDeletion {
  readonly type = 'alwaysDelete';

  static fromManifest(op: ManifestOp): AlwaysDelete {
    return new AlwaysDelete(field(op, 'where'), paramsField(op));
  }

  apply(state: PlanState): void {
    state.steps.push({ kind: 'deleteRows', predicate: this.where, params: this.parameters });
  }
}
