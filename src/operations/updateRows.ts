import type { ParamValue } from '../engine/params.js';
import { invalidArgument } from '../errors.js';
import { formatSetClause, parseSetClause } from '../plan/sql.js';
import type { PlanState } from '../plan/state.js';
import { compact, field, optionalString, paramsField, requireColumns, requireParamCount, requireSources, type CheckContext, type ManifestOp, type Operation } from './operation.js';

/** Column → SQL expression, in the order given. */
type Assignments = readonly (readonly [column: string, expression: string])[];

/**
 * What the two updates share: assignments (each column keeps its type: the expression is cast to
 * it), an optional condition, and `$n` values used by both. Manifest fields as upstream's:
 * `setClause` (`a = expr, b = expr`) for both; the condition is `whereClause` in alwaysUpdate and
 * `where` in updateData (upstream keeps it there beside its `overlay` file of changed values).
 */
abstract class RowUpdate implements Operation {
  abstract readonly type: 'updateData' | 'alwaysUpdate';
  /** The manifest field holding the condition. */
  protected abstract readonly whereField: 'where' | 'whereClause';

  constructor(readonly set: Assignments, readonly whereClause: string | undefined, readonly parameters: readonly ParamValue[]) {}

  /** The assignments of a manifest's `setClause`; a clause that is not `column = expression, …` is refused. */
  protected static assignments(op: ManifestOp): Assignments {
    if (op.setClause === undefined && op.overlay !== undefined) {
      throw invalidArgument(`it keeps its values in an overlay file ('${String(op.overlay)}'), which this version does not read`);
    }
    const clause = field(op, 'setClause');
    const set = parseSetClause(clause);
    if (!set) throw invalidArgument(`'${clause}' is not a list of column = expression`);
    return set;
  }

  get setClause(): string {
    return formatSetClause(this.set);
  }

  describe(): string {
    const what = `${this.type === 'alwaysUpdate' ? 'Always update' : 'Update'} ${this.set.map(([column]) => column).join(', ')}`;
    return this.whereClause === undefined ? what : `${what} where ${this.whereClause}`;
  }

  toManifest(): ManifestOp {
    return compact({
      type: this.type,
      setClause: this.setClause,
      [this.whereField]: this.whereClause,
      parameters: this.parameters.length > 0 ? [...this.parameters] : undefined,
    });
  }

  async check(context: CheckContext): Promise<void> {
    requireSources(context, 'update');
    if (this.set.length === 0) throw invalidArgument('Update needs at least one column to set');
    requireParamCount(this.whereClause === undefined ? this.setClause : `${this.setClause} WHERE ${this.whereClause}`, this.parameters);
    await requireColumns(context, this.set.map(([column]) => column), `update ${this.set.map(([column]) => column).join(', ')}`);
  }

  protected step(blocks?: readonly string[]) {
    return { kind: 'updateRows', set: this.set, predicate: this.whereClause, params: this.parameters, blocks } as const;
  }

  abstract apply(state: PlanState): void;
}

/** Sets columns in the matching rows of the data present when it is recorded (as a plain delete). */
export class UpdateData extends RowUpdate {
  readonly type = 'updateData';
  protected readonly whereField = 'where';

  static fromManifest(op: ManifestOp): UpdateData {
    // `whereClause`: how this version wrote it before matching upstream's field name
    return new UpdateData(RowUpdate.assignments(op), optionalString(op, 'where') ?? optionalString(op, 'whereClause'), paramsField(op));
  }

  apply(state: PlanState): void {
    state.steps.push(this.step(state.baseBlockIds()));
  }
}

/** Sets columns in the matching rows of every source, also those attached later (upstream's ALWAYS UPDATE). */
export class AlwaysUpdate extends RowUpdate {
  readonly type = 'alwaysUpdate';
  protected readonly whereField = 'whereClause';

  static fromManifest(op: ManifestOp): AlwaysUpdate {
    return new AlwaysUpdate(RowUpdate.assignments(op), optionalString(op, 'whereClause'), paramsField(op));
  }

  apply(state: PlanState): void {
    state.steps.push(this.step());
  }
}
