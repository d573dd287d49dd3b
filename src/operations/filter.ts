import type { ParamValue } from '../engine/params.js';
import type { PlanState } from '../plan/state.js';
import { field, paramsField, requireParamCount, requireSources, type CheckContext, type ManifestOp, type Operation } from './operation.js';

/** Keeps the rows matching a SQL predicate; values are bound `$n` parameters. */
export class Filter implements Operation {
  readonly type = 'filter';

  constructor(readonly whereClause: string, readonly parameters: readonly ParamValue[]) {}

  static fromManifest(op: ManifestOp): Filter {
    return new Filter(field(op, 'whereClause'), paramsField(op));
  }

  describe(): string {
    return `Filter ${this.whereClause}`;
  }

  toManifest(): ManifestOp {
    return { type: this.type, whereClause: this.whereClause, parameters: [...this.parameters] };
  }

  check(context: CheckContext): void {
    requireSources(context, 'filter');
    requireParamCount(this.whereClause, this.parameters);
  }

  apply(state: PlanState): void {
    state.steps.push({ kind: 'filter', predicate: this.whereClause, params: this.parameters });
  }
}
