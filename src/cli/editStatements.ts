import type { Writable } from 'node:stream';
import type { BundleBuilder } from '../bundle/builder.js';
import { BundlebaseError } from '../errors.js';
import { maskQuoted, parseSetClause } from '../plan/sql.js';
import { showProfile } from './commands.js';
import { write } from './output.js';

/** The REPL's edit statements (upstream's spelling), for HELP. */
export const EDIT_HELP = `  DELETE WHERE <cond>           delete matching rows     ALWAYS DELETE WHERE <cond>   … also in sources attached later
  UPDATE SET <col> = <expr>, … [WHERE <cond>]             ALWAYS UPDATE SET …          … also in sources attached later
  ADD COLUMN <name> AS <expr>   add a computed column    CAST COLUMN <col> TO <type> [LENIENT]   change a column's type
  NORMALIZE COLUMN NAMES        lower snake case names   DESCRIBE DATA [<col>, …]     profile the columns
`;

const NAME = String.raw`("(?:[^"]|"")+"|[^\s"]+)`;
const usage = (text: string) => new BundlebaseError('INVALID_ARGUMENT', `Not an edit statement: '${text}'; see HELP`);
const unquote = (name: string) => (name.startsWith('"') ? name.slice(1, -1).replaceAll('""', '"') : name);

/**
 * Runs an edit statement of the REPL on `builder` (DELETE, UPDATE, their ALWAYS forms, ADD COLUMN,
 * CAST COLUMN, NORMALIZE COLUMN NAMES, DESCRIBE DATA) and reports what it did on `out`.
 */
export async function runEditStatement(builder: BundleBuilder, statement: string, out: Writable): Promise<void> {
  const text = statement.trim().replace(/;+$/, '').trim();
  const always = /^ALWAYS\s+/i.exec(text);
  const edit = always ? text.slice(always[0].length) : text;
  const options = { always: always !== null };
  let m: RegExpExecArray | null;
  if ((m = /^DELETE\s+WHERE\s+([\s\S]+)$/i.exec(edit))) {
    await builder.delete(m[1]!, [], options);
  } else if ((m = /^UPDATE\s+SET\s+([\s\S]+)$/i.exec(edit))) {
    const [set, where] = splitWhere(m[1]!);
    const assignments = parseSetClause(set);
    if (!assignments) throw new BundlebaseError('INVALID_ARGUMENT', `'${set}' is not a list of column = expression`);
    await builder.update(Object.fromEntries(assignments), where, [], options);
  } else if (always) {
    throw usage(text);
  } else if ((m = new RegExp(String.raw`^ADD\s+COLUMN\s+${NAME}\s+AS\s+([\s\S]+)$`, 'i').exec(text))) {
    await builder.addColumn(unquote(m[1]!), m[2]!);
  } else if ((m = new RegExp(String.raw`^CAST\s+COLUMN\s+${NAME}\s+TO\s+([\s\S]+?)(\s+LENIENT)?$`, 'i').exec(text))) {
    await builder.castColumn(unquote(m[1]!), m[2]!, { lenient: m[3] !== undefined });
  } else if (/^NORMALIZE\s+COLUMN\s+NAMES$/i.test(text)) {
    await builder.normalizeColumnNames();
  } else if ((m = /^DESCRIBE\s+DATA(?:\s+([\s\S]+))?$/i.exec(text))) {
    const columns = m[1]?.split(',').map((c) => unquote(c.trim())) ?? [];
    return showProfile(builder, columns, 'table', out);
  } else {
    throw usage(text);
  }
  await write(out, `${builder.status().changes.at(-1)?.description ?? 'Done'}\n`);
}

/** `set WHERE cond` split at the last WHERE outside literals and parentheses. */
function splitWhere(text: string): [string, string | undefined] {
  const masked = maskQuoted(text);
  let depth = 0;
  let at = -1;
  for (let i = 0; i < masked.length; i++) {
    const c = masked[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (depth === 0 && /^\sWHERE\s/i.test(masked.slice(i, i + 7))) at = i;
  }
  return at < 0 ? [text, undefined] : [text.slice(0, at).trim(), text.slice(at + 6).trim()];
}
