import type { ParamValue } from '../engine/params.js';
import type { PlanState } from '../plan/state.js';
import { field, paramsField, requireParamCount, requireSources, type CheckContext, type ManifestOp, type Operation } from './operation.js';

/** Replaces the rows with the result of SQL over the table `bundle`. */
export class Select implements Operation {
  readonly type = 'select';

  constructor(readonly sql: string, readonly parameters: readonly ParamValue[]) {}

  static fromManifest(op: ManifestOp): Select {
    return new Select(field(op, 'sql'), paramsField(op));
  }

  describe(): string {
    return `Select ${this.sql}`;
  }

  toManifest(): ManifestOp {
    return { type: this.type, sql: this.sql, parameters: [...this.parameters] };
  }

  check(context: CheckContext): void {
    requireSources(context, 'select from');
    requireParamCount(this.sql, this.parameters);
  }

  apply(state: PlanState): void {
    state.steps.push({ kind: 'select', sql: this.sql, params: this.parameters });
  }
}
