import './allocator.js'; // first: DuckDB's library loads with its allocator settings
import {
  DuckDBPreparedStatement,
  DuckDBTimestampValue,
} from '@duckdb/node-api';
import { invalidArgument } from '../errors.js';
import type { SqlType } from './arrow/types.js';

/** A value a user may bind to `$n` in a filter or select. */
export type ParamValue = string | number | bigint | boolean | Date | null;

/** Binds each value by its JS type; values never become SQL text. */
export function bindParams(prepared: DuckDBPreparedStatement, params: readonly ParamValue[]): void {
  if (prepared.parameterCount !== params.length) {
    throw invalidArgument(
      `The statement expects ${prepared.parameterCount} parameter(s) ($1..$${prepared.parameterCount}) but ${params.length} were given`,
    );
  }
  params.forEach((value, i) => bindOne(prepared, i + 1, value));
}

function bindOne(prepared: DuckDBPreparedStatement, index: number, value: ParamValue): void {
  if (value === null || value === undefined) return prepared.bindNull(index);
  switch (typeof value) {
    case 'number':
      // an untyped parameter takes the type it is bound with: the narrowest that holds the value
      if (Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31) return prepared.bindInteger(index, value);
      return Number.isSafeInteger(value)
        ? prepared.bindBigInt(index, BigInt(value))
        : prepared.bindDouble(index, value);
    case 'bigint':
      return prepared.bindHugeInt(index, value);
    case 'string':
      return prepared.bindVarchar(index, value);
    case 'boolean':
      return prepared.bindBoolean(index, value);
  }
  if (value instanceof Date) {
    return prepared.bindTimestamp(index, new DuckDBTimestampValue(BigInt(value.getTime()) * 1000n));
  }
  throw invalidArgument(`Parameter $${index} has an unsupported type: ${typeof value}`);
}

/** Checks user-supplied params before they are recorded. */
export function validateParams(params: unknown, where: string): ParamValue[] {
  if (params === undefined) return [];
  if (!Array.isArray(params)) throw invalidArgument(`Parameters for '${where}' must be an array`);
  for (const [i, v] of params.entries()) {
    const ok = v === null || ['string', 'number', 'bigint', 'boolean'].includes(typeof v) || v instanceof Date;
    if (!ok) throw invalidArgument(`Parameter $${i + 1} for '${where}' has an unsupported type: ${typeof v}`);
  }
  return params as ParamValue[];
}

const INTEGER_TYPES = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'HUGEINT']);

/** A parameter sent as text (PostgreSQL clients), converted for the type DuckDB inferred for it. */
export function paramFromText(text: string | null, type: SqlType | undefined): ParamValue {
  if (text === null) return null;
  const name = type?.name ?? '';
  if (INTEGER_TYPES.has(name)) {
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : BigInt(text);
  }
  if (name === 'FLOAT' || name === 'DOUBLE' || name.startsWith('DECIMAL(')) return Number(text);
  switch (name) {
    case 'BOOLEAN':
      return ['t', 'true', '1', 'on', 'yes', 'y'].includes(text.toLowerCase());
    case 'DATE':
    case 'TIMESTAMP':
      return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text.replace(' ', 'T')}Z`);
    default:
      return text;
  }
}
