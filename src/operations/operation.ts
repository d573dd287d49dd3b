import type { PlanState } from '../plan/state.js';
import { invalidArgument } from '../errors.js';
import { maxParamIndex } from '../plan/sql.js';
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
  /**
   * Set when the bundle was unpacked from an archive: the unpacked root stands for `/` of the
   * machine that packed it, so recorded paths (absolute or relative) resolve to the packed copies.
   */
  root?: string;
  /** Url of the bundle when it lives in a bucket or on a web server: relative sources are the objects beside it. */
  baseUrl?: string;
}

/**
 * A recorded operation. It describes, it never touches data: `apply` adds its part to the plan the
 * compiler turns into SQL.
 */
export interface Operation extends OperationInfo {
  toManifest(): ManifestOp;
  apply(state: PlanState): void;
  /**
   * Refuses the operation on the pipeline it is being added to (INVALID_ARGUMENT naming what is
   * wrong). Builders call it before recording; operations replayed from a manifest are not checked.
   */
  check?(context: CheckContext): void | Promise<void>;
}

/** What an operation's check may ask about the pipeline before it. */
export interface CheckContext {
  /** Column names of the pipeline so far (DuckDB describes it; no data is read). */
  columns(): Promise<readonly string[]>;
  /** Whether the pipeline has any source yet (a bundle without sources has no rows to work on). */
  hasSources(): boolean;
  /** The bundle's url, for messages. */
  readonly url: string;
}

/** Refuses row operations on a bundle that has no sources yet: they would fail every later attach. */
export function requireSources(context: CheckContext, what: string): void {
  if (!context.hasSources()) throw invalidArgument(`Bundle ${context.url} has no sources to ${what}: attach one first`);
}

/** Refuses names that are not among the pipeline's columns, saying which columns there are. */
export async function requireColumns(context: CheckContext, names: readonly string[], action: string): Promise<void> {
  const columns = await context.columns();
  const missing = names.filter((n) => !columns.includes(n));
  if (missing.length > 0) {
    throw invalidArgument(`Cannot ${action}: column '${missing.join("', '")}' not found; columns: ${columns.join(', ') || '(none)'}`);
  }
}

/**
 * Refuses `name` for a new column when a column (other than `except`) already has it. DuckDB
 * matches names case-insensitively, so `AMOUNT` beside `amount` is the same name to it.
 */
export async function requireFreeName(context: CheckContext, name: string, action: string, except?: string): Promise<void> {
  const clash = (await context.columns()).find((c) => c !== except && c.toLowerCase() === name.toLowerCase());
  if (clash !== undefined) {
    const same = clash === name ? '' : ` (column names differing only in case are the same name to the engine)`;
    throw invalidArgument(`Cannot ${action}: a column '${clash}' already exists${same}`);
  }
}

/** Refuses SQL whose highest `$n` is not the number of values given. */
export function requireParamCount(sql: string, params: readonly ParamValue[]): void {
  const used = maxParamIndex(sql);
  if (used > params.length) {
    throw invalidArgument(`'${sql}' uses $${used} but ${params.length} parameter(s) were given`);
  }
  if (used < params.length) {
    throw invalidArgument(`'${sql}' uses ${used} parameter(s) but ${params.length} were given`);
  }
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

const mistyped = (op: ManifestOp, name: string, what: string) =>
  invalidArgument(`Operation '${op.type}' has a '${name}' field that is not ${what}`);

/** An optional string field (numbers, e.g. ids written unquoted by other tools, are read as text). */
export function optionalString(op: ManifestOp | Record<string, unknown>, name: string, type = String(op.type)): string | undefined {
  const value = op[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') throw mistyped({ type } as ManifestOp, name, 'text');
  return value;
}

/** An optional finite number field. */
export function optionalNumber(op: ManifestOp | Record<string, unknown>, name: string, type = String(op.type)): number | undefined {
  const value = op[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw mistyped({ type } as ManifestOp, name, 'a number');
  return value;
}

/** An optional boolean field. */
export function optionalBoolean(op: ManifestOp | Record<string, unknown>, name: string, type = String(op.type)): boolean | undefined {
  const value = op[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw mistyped({ type } as ManifestOp, name, 'true or false');
  return value;
}

/** An optional mapping field, as a plain record (its entries are checked by the caller). */
export function optionalRecord(op: ManifestOp | Record<string, unknown>, name: string, type = String(op.type)): Record<string, unknown> | undefined {
  const value = op[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw mistyped({ type } as ManifestOp, name, 'a mapping');
  return value as Record<string, unknown>;
}

/** A list field whose elements `each` decodes (and checks). */
export function listField<T>(op: ManifestOp | Record<string, unknown>, name: string, each: (item: Record<string, unknown>) => T, type = String(op.type)): T[] {
  const value = op[name];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'object' && v !== null && !Array.isArray(v))) {
    throw mistyped({ type } as ManifestOp, name, 'a list of mappings');
  }
  return value.map((v) => each(v as Record<string, unknown>));
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
