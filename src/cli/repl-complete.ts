import { tokenize } from './statements.js';

/** DuckDB's reserved keywords (duckdb_keywords()): a column named like one must be quoted. */
const RESERVED = new Set(
  ('ALL ANALYSE ANALYZE AND ANY ARRAY AS ASC ASYMMETRIC BOTH CASE CAST CHECK COLLATE COLUMN CONSTRAINT CREATE DEFAULT ' +
    'DEFERRABLE DESC DESCRIBE DISTINCT DO ELSE END EXCEPT FALSE FETCH FOR FOREIGN FROM GROUP HAVING IN INITIALLY INTERSECT ' +
    'INTO LAMBDA LATERAL LEADING LIMIT NOT NULL OFFSET ON ONLY OR ORDER PIVOT PIVOT_LONGER PIVOT_WIDER PLACING PRIMARY ' +
    'QUALIFY REFERENCES RETURNING SELECT SHOW SOME SUMMARIZE SYMMETRIC TABLE THEN TO TRAILING TRUE UNION UNIQUE UNPIVOT ' +
    'USING VARIADIC WHEN WHERE WINDOW WITH').split(' '),
);

/** Keywords offered by Tab, beyond the reserved ones. */
const KEYWORDS = [
  ...RESERVED,
  ...'BETWEEN BY COUNT EXISTS FILTER FULL ILIKE INNER IS JOIN LEFT LIKE OUTER OVER PARTITION RIGHT SUM AVG MIN MAX'.split(' '),
];

/** The names Tab completes besides keywords: the bundle's columns and what can follow FROM. */
export interface CompletionNames {
  columns: string[];
  /** "bundle" and the views, queryable by name. */
  tables: string[];
}

/** `name` as SQL writes it: quoted when it is not a plain lower-case word or is a keyword. */
export function sqlName(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) && !RESERVED.has(name.toUpperCase()) ? name : `"${name.replaceAll('"', '""')}"`;
}

/**
 * Tab completion of the text before the cursor: [candidates, the text they replace]. Names are
 * quoted as SQL needs (`Sa` → `"Sales Region"`), also inside an open `"`; keywords and commands
 * match in any case and come back in the case being typed.
 */
export function completeLine(line: string, continuing: boolean, names: CompletionNames, commands: readonly string[]): [string[], string] {
  const tokens = tokenize(line);
  const last = tokens.at(-1);
  if (last && !last.closed) {
    if (last.kind !== 'identifier') return [[], ''];
    const typed = last.text.slice(1).replaceAll('""', '"');
    return [matching([...names.columns, ...names.tables], typed).map((n) => `"${n.replaceAll('"', '""')}"`), last.text];
  }
  const word = last?.kind === 'word' ? last.text : '';
  const semicolon = tokens.map((t) => t.kind).lastIndexOf('semicolon');
  const before = tokens.slice(semicolon + 1, word ? -1 : undefined).filter((t) => t.kind !== 'space' && t.kind !== 'comment');
  // the first word of a statement may be a command: the line's, unless it continues a statement
  const atStart = (semicolon >= 0 || !continuing) && (before.length === 0 || (before.length === 1 && before[0]!.text === '.'));
  if (atStart && before.length === 1) return [inCase(matching(commands, word), word).map((h) => `.${h}`), `.${word}`];
  const keywords = inCase(matching(atStart ? [...commands, ...KEYWORDS] : KEYWORDS, word), word);
  const sqlNames = matching([...names.columns, ...names.tables], word).map(sqlName);
  return [[...new Set([...sqlNames, ...keywords])], word];
}

function matching(candidates: readonly string[], typed: string): string[] {
  const lower = typed.toLowerCase();
  return [...new Set(candidates.filter((c) => c.toLowerCase().startsWith(lower)))].sort();
}

/** Keywords in lower case while the user types them so. */
function inCase(words: string[], typed: string): string[] {
  return typed && typed === typed.toLowerCase() ? words.map((w) => w.toLowerCase()) : words;
}
