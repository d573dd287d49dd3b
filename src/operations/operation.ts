import type { PlanState } from '../plan/state.js';
import { invalidArgument } from '../errors.js';
import type { ParamValue } from '../engine/params.js';

import type { ManifestOp } from '../manifest/commits.js';

export type { ManifestOp };

/** What users see of an operation: its manifest type and a one-line description. */
export interface OperationInfo {
  readonly type: string;
  describe(): string;
}

/** Where an operation was recorded: relative sources resolve against that bundle's directory. */
export interface ReplayContext {
  /** Directory (absolute path) of the bundle whose commit recorded the operation; undefined for memory bundles. */
  baseDir: string | undefined;
}

/**
 * A recorded operation. It describes, it never touches data: `apply` adds its part to the plan the
 * compiler turns into SQL.
 */
export interface Operation extends OperationInfo {
  toManifest(): ManifestOp;
  apply(state: PlanState): void;
}

/** Reads a required string field of a manifest op, naming the op when it is missing. */
export function field(op: ManifestOp, name: string): string {
  const value = op[name];
  if (typeof value === 'number') return String(value); // ids written unquoted by other tools
  if (typeof value !== 'string') {
    throw invalidArgument(`Operation '${op.type}' is missing its '${name}' field`);
  }
  return value;
}

/** Reads an optional list of parameter values (`$1…`), checking every element's type. */
export function paramsField(op: ManifestOp, name = 'parameters'): ParamValue[] {
  const value = op[name];
  if (value === undefined || value === null) return [];
  const ok = (v: unknown) => v === null || ['string', 'number', 'bigint', 'boolean'].includes(typeof v) || v instanceof Date;
  if (!Array.isArray(value) || !value.every(ok)) {
    throw invalidArgument(`Operation '${op.type}' has a '${name}' field that is not a list of values`);
  }
  return value as ParamValue[];
}

/** Drops undefined fields so manifests never carry `null` for unset optionals. */
export function compact(op: Record<string, unknown>): ManifestOp {
  return Object.fromEntries(Object.entries(op).filter(([, v]) => v !== undefined)) as ManifestOp;
}
