import type { JoinType, PlanState } from '../plan/state.js';
import { invalidArgument } from '../errors.js';
import { field, type ManifestOp, type Operation } from './operation.js';

export type { JoinType };

const JOIN_TYPES: Record<string, JoinType> = { inner: 'Inner', left: 'Left', right: 'Right', full: 'Full' };

/** `inner` / `left` / `right` / `full` (any case) → the manifest spelling. */
export function parseJoinType(how: string | undefined): JoinType {
  const type = JOIN_TYPES[(how ?? 'inner').toLowerCase()];
  if (!type) throw invalidArgument(`Unknown join type '${how}'; use inner, left, right or full`);
  return type;
}

/**
 * Joins the rows so far with another pack of sources. In `expression`, `$base` (or `bundle`) names
 * the bundle's rows and the join's name the joined rows, as in the original bundlebase.
 */
export class Join implements Operation {
  readonly type = 'join';
  /** Views are read-only projections of their parent: they cannot add sources or views. */
  static readonly allowedOnView = false;

  constructor(readonly name: string, readonly packId: string, readonly joinType: JoinType, readonly expression: string) {}

  static fromManifest(op: ManifestOp): Join {
    return new Join(field(op, 'name'), field(op, 'packId'), parseJoinType(field(op, 'joinType')), field(op, 'expression'));
  }

  describe(): string {
    return `Join ${this.name}`;
  }

  toManifest(): ManifestOp {
    return { type: this.type, name: this.name, packId: this.packId, joinType: this.joinType, expression: this.expression };
  }

  apply(state: PlanState): void {
    state.joins.set(this.name, this.packId);
    state.steps.push({ kind: 'join', name: this.name, packId: this.packId, joinType: this.joinType, on: this.expression });
  }
}
