import type { ParamValue } from '../engine/params.js';
import { maskQuoted } from './sql.js';
import type { PlanState } from './state.js';

const IDENT = String.raw`("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_]*)`;
const ITEM = String.raw`(?:\$\d+|'(?:[^']|'')*'|[+-]?\d+(?:\.\d+)?)`;
const LITERAL = `(${ITEM})`;
const EQUALS = new RegExp(String.raw`^\s*${IDENT}\s*=\s*${LITERAL}\s*$`);
const EQUALS_REVERSED = new RegExp(String.raw`^\s*${LITERAL}\s*=\s*${IDENT}\s*$`);
const IN_LIST = new RegExp(String.raw`^\s*${IDENT}\s+IN\s*\(\s*(${ITEM}(?:\s*,\s*${ITEM})*)\s*\)\s*$`, 'i');

/**
 * Equality and IN conditions on plain columns that every row must meet: the top-level AND terms
 * of the filters that run first (before any step renames, drops, reshapes or changes the values
 * of columns; a delete only drops rows, so filters after it still count). An index on such a column
 * may narrow what is read; the filters still run, so narrowing never changes a result.
 */
export function leadingEqualities(state: PlanState): Map<string, EqualityValue[]> {
  const found = new Map<string, EqualityValue[]>();
  for (const step of state.steps) {
    if (step.kind === 'deleteRows') continue;
    if (step.kind !== 'filter') break;
    for (const term of topLevelAndTerms(step.predicate)) {
      const match = matchTerm(term, step.params);
      if (match && !found.has(match.column)) found.set(match.column, match.values);
    }
  }
  return found;
}

function matchTerm(term: string, params: readonly ParamValue[]): { column: string; values: EqualityValue[] } | undefined {
  let m = EQUALS.exec(term);
  if (m) return { column: identifier(m[1]!), values: [literal(m[2]!, params)] };
  m = EQUALS_REVERSED.exec(term);
  if (m) return { column: identifier(m[2]!), values: [literal(m[1]!, params)] };
  m = IN_LIST.exec(term);
  if (m) {
    const items = m[2]!.match(new RegExp(ITEM, 'g')) ?? [];
    return { column: identifier(m[1]!), values: items.map((item) => literal(item, params)) };
  }
  return undefined;
}

function identifier(text: string): string {
  return text.startsWith('"') ? text.slice(1, -1).replaceAll('""', '"') : text;
}

/**
 * A number written in the SQL (`42`, `-4.50`), kept as its text: DuckDB types it INTEGER, BIGINT,
 * HUGEINT or DECIMAL, and how it then meets a column's type is for whoever compares it to say.
 */
export class NumericLiteral {
  constructor(readonly text: string) {}
}

/** A value an equality compares a column with: a parameter's value, quoted text or a number literal. */
export type EqualityValue = ParamValue | NumericLiteral;

/** A literal as its SQL type sees it: a parameter's value, quoted text as a string, a number as its text. */
function literal(text: string, params: readonly ParamValue[]): EqualityValue {
  if (text.startsWith('$')) return params[Number(text.slice(1)) - 1] ?? null;
  if (text.startsWith("'")) return text.slice(1, -1).replaceAll("''", "'");
  return new NumericLiteral(text);
}

/**
 * Quoting the mask does not know (E'…' escapes, $$…$$ or $tag$…$tag$ dollar quotes): a quote
 * inside such a string could hide an OR, so a predicate using them gives no terms.
 */
const OTHER_QUOTING = /(?:^|[^\w$])[eE]'|\$(?:[A-Za-z_]\w*)?\$/;

/** Whether `masked[i]` starts a word (what precedes it is no identifier character). */
const wordStart = (masked: string, i: number) => i === 0 || !/[\w$]/.test(masked[i - 1]!);

/**
 * Splits a predicate on AND at the top level (outside parentheses, literals and comments). A
 * top-level OR makes the whole predicate one term, which then matches no equality; so do BETWEEN
 * (whose AND joins no terms: `y BETWEEN 0 AND x = 1` is `(y BETWEEN 0 AND x) = 1`) and quoting
 * the mask does not know.
 */
function topLevelAndTerms(predicate: string): string[] {
  const masked = maskQuoted(predicate).toUpperCase();
  if (/\bBETWEEN\b/.test(masked) || OTHER_QUOTING.test(predicate)) return [predicate];
  const terms: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < masked.length; i++) {
    const c = masked[i]!;
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (depth === 0 && wordStart(masked, i)) {
      const word = /^(AND|OR)\b/.exec(masked.slice(i, i + 4));
      if (word?.[1] === 'OR') return [predicate];
      if (word?.[1] === 'AND') {
        terms.push(predicate.slice(start, i));
        start = i + 3;
      }
    }
  }
  terms.push(predicate.slice(start));
  return terms;
}
