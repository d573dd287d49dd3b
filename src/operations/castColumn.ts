import { castTypeName } from '../engine/arrow/types.js';
import { invalidArgument } from '../errors.js';
import type { PlanState } from '../plan/state.js';
import { compact, field, optionalBoolean, optionalString, requireColumns, type CheckContext, type ManifestOp, type Operation } from './operation.js';

/**
 * A DuckDB type name: words (`INTEGER`, `DOUBLE PRECISION`), an optional argument list
 * (`DECIMAL(9,2)`, `STRUCT(a INTEGER)`) and array suffixes (`VARCHAR[]`). Anything else could end
 * the CAST and is refused before it reaches SQL; DuckDB says whether the type exists.
 */
const TYPE_NAME = /^[A-Za-z][A-Za-z0-9_ ]*(\([A-Za-z0-9_ ,"]*\))?(\[\d*\])*$/;

/**
 * Changes a column's type in place: CAST, so a value that cannot be converted fails the read
 * naming the column, or TRY_CAST when `lenient` (such values become NULL). `clean` is a regular
 * expression whose matches are removed from the value's text first (`[^0-9.]` for '$1,200.50').
 * Manifest fields as upstream's castColumn: `name` (older: `columnName`), `newType` (a DuckDB type
 * name, or an Arrow one as upstream writes it: `Utf8`, `Int64`, …), `clean`, plus `lenient`.
 */
export class CastColumn implements Operation {
  readonly type = 'castColumn';

  constructor(readonly name: string, readonly newType: string, readonly lenient = false, readonly clean?: string) {
    if (!TYPE_NAME.test(newType.trim())) throw invalidArgument(`'${newType}' is not a type name (e.g. INTEGER, DOUBLE, DECIMAL(9,2), DATE, VARCHAR)`);
    if (clean !== undefined) requirePattern(clean);
  }

  static fromManifest(op: ManifestOp): CastColumn {
    return new CastColumn(optionalString(op, 'name') ?? field(op, 'columnName'), field(op, 'newType'), optionalBoolean(op, 'lenient') ?? false, optionalString(op, 'clean'));
  }

  describe(): string {
    const notes = [this.lenient ? 'lenient' : '', this.clean === undefined ? '' : `clean: ${this.clean}`].filter(Boolean);
    return `Cast column ${this.name} to ${this.newType}${notes.length > 0 ? ` (${notes.join(', ')})` : ''}`;
  }

  toManifest(): ManifestOp {
    return compact({ type: this.type, name: this.name, newType: this.newType, clean: this.clean, lenient: this.lenient || undefined });
  }

  async check(context: CheckContext): Promise<void> {
    await requireColumns(context, [this.name], `cast column '${this.name}'`);
  }

  apply(state: PlanState): void {
    state.steps.push({ kind: 'castColumn', name: this.name, type: castTypeName(this.newType.trim()), lenient: this.lenient, clean: this.clean });
  }
}

/**
 * Refuses a clean pattern that is not a regular expression before it is recorded. DuckDB (RE2)
 * compiles it only when rows are read; JavaScript's parser catches the same mistakes (an unclosed
 * `[` or `(`, a dangling quantifier) now.
 */
function requirePattern(pattern: string): void {
  if (pattern === '') throw invalidArgument('The clean pattern of a cast must be a non-empty regular expression');
  try {
    new RegExp(pattern);
  } catch (err) {
    throw invalidArgument(`The clean pattern '${pattern}' is not a regular expression: ${(err as Error).message}`);
  }
}
