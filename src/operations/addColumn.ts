import type { PlanState } from '../plan/state.js';
import { field, requireFreeName, requireSources, type CheckContext, type ManifestOp, type Operation } from './operation.js';

/** Appends a column computed by a SQL expression over the row (upstream's addColumn{name, expression}). */
export class AddColumn implements Operation {
  readonly type = 'addColumn';

  constructor(readonly name: string, readonly expression: string) {}

  static fromManifest(op: ManifestOp): AddColumn {
    return new AddColumn(field(op, 'name'), field(op, 'expression'));
  }

  describe(): string {
    return `Add column ${this.name} as ${this.expression}`;
  }

  toManifest(): ManifestOp {
    return { type: this.type, name: this.name, expression: this.expression };
  }

  async check(context: CheckContext): Promise<void> {
    requireSources(context, 'add a column to');
    await requireFreeName(context, this.name, `add column '${this.name}'`);
  }

  apply(state: PlanState): void {
    state.steps.push({ kind: 'addColumn', name: this.name, expression: this.expression });
  }
}
