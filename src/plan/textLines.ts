/**
 * The command line's csv / json / table output, formatted by DuckDB (vectorised, on its threads)
 * instead of row by row in JavaScript: a SELECT over the table `bundle` whose text is exactly
 * what is printed. Values are DuckDB's own text, as `export` writes them (DATE 2021-04-23,
 * exact decimals, '3 days').
 */
import { quoteLiteral } from './sql.js';

/**
 * How a column's value is printed. `number`: integers, decimals and booleans a JS number holds
 * exactly; `wide`: an integer or decimal it may not (JSON prints it as a number only when it is
 * exact as one, else as text); `float`: NaN and infinities are not JSON numbers; `temporal`:
 * dates and times (JSON strings); `text`: the rest. CSV quotes only `text` when needed.
 */
export type TextColumn = { kind: 'number' | 'float' | 'temporal' | 'text' } | { kind: 'wide'; scale: number };

/** Columns are referred to by position (`bundle t(c0, c1, …)`), so any name works, duplicates too. */
const ref = (i: number) => `c${i}`;
const from = (count: number) => `FROM bundle t(${Array.from({ length: count }, (_, i) => ref(i)).join(', ')})`;
const CONTROL = "chr(13) || chr(10) || chr(9)";
const NEWLINE = 'chr(10)';

/** A CSV cell: quoted when it holds a delimiter, quote or line break, or is empty ('' is not NULL). */
function csvCell(column: TextColumn, i: number): string {
  const c = ref(i);
  if (column.kind !== 'text') return `coalesce(CAST(${c} AS VARCHAR), '')`; // never quoted
  const t = `CAST(${c} AS VARCHAR)`;
  return `CASE WHEN ${c} IS NULL THEN '' WHEN ${t} = '' OR contains(${t}, ',') OR contains(${t}, '"') OR contains(${t}, chr(10)) OR contains(${t}, chr(13)) ` +
    `THEN '"' || replace(${t}, '"', '""') || '"' ELSE ${t} END`;
}

/** A JSON value's text: numbers stay numbers while a reader's double holds them exactly. */
function jsonValue(column: TextColumn, i: number): string {
  const c = ref(i);
  const text = `CAST(${c} AS VARCHAR)`;
  const quoted = `'"' || ${text} || '"'`;
  switch (column.kind) {
    case 'number':
      return text;
    case 'wide': {
      // 2^53 - 1 for integers; 15 significant digits for decimals (as toObjects() decides)
      const limit = column.scale === 0 ? '9007199254740991' : `1e${15 - column.scale}`;
      return `CASE WHEN abs(${c}) < ${limit} THEN ${text} ELSE ${quoted} END`;
    }
    case 'float':
      return `CASE WHEN isfinite(${c}) THEN ${text} ELSE ${quoted} END`;
    case 'temporal':
      return quoted;
    default:
      return `CAST(to_json(${c}) AS VARCHAR)`;
  }
}

/**
 * One VARCHAR column `line`: each row's CSV line or JSON object, newline included, so a batch's
 * string bytes are the output as they are.
 */
export function textLinesSql(names: readonly string[], columns: readonly TextColumn[], format: 'csv' | 'json'): string {
  const line = format === 'csv'
    ? columns.map(csvCell).join(", ',', ")
    : `'{', ${columns.map((col, i) => `${quoteLiteral(`${i > 0 ? ',' : ''}${JSON.stringify(names[i])}:`)}, coalesce(${jsonValue(col, i)}, 'null')`).join(', ')}, '}'`;
  return `SELECT concat(${line}, ${NEWLINE}) AS line ${from(columns.length)}`;
}

/** Every column as the text a table shows: NULL spelled out, line breaks and tabs as spaces. */
export function tableTextSql(columns: readonly TextColumn[]): string {
  const cells = columns.map((column, i) => {
    const text = `CAST(${ref(i)} AS VARCHAR)`;
    return `coalesce(${column.kind === 'text' ? `translate(${text}, ${CONTROL}, '   ')` : text}, 'NULL') AS ${ref(i)}`;
  });
  return `SELECT ${cells.join(', ')} ${from(columns.length)}`;
}
