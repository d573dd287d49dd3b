import { BundlebaseError } from '../errors.js';
import { parse, SyntaxError as GrammarError } from './grammar.generated.js';

/** Options of ATTACH … WITH (…) and REPLACE … WITH (…), plus ATTACH … TO <join>. */
export interface AttachStatementOptions {
  format?: string;
  delimiter?: string;
  header?: boolean | string | number;
  quote?: string;
  /** How the source is kept: auto, copy, parquet or ref (attach's saveAs). */
  save_as?: string;
  join?: string;
}

/** One parsed statement of the bundle statement language (see grammar.peggy and README). */
export type Statement = StatementBody & {
  /** The statement as written (without the ";" ending it). */
  text: string;
  /** Where it starts in the parsed text (1-based). */
  position: { line: number; column: number };
};

type StatementBody =
  | { type: 'attach'; url: string; options: AttachStatementOptions }
  | { type: 'detach'; source: string }
  | { type: 'replace'; source: string; url: string; options: AttachStatementOptions }
  | { type: 'filter'; where: string }
  | { type: 'delete'; where: string; always: boolean }
  | { type: 'update'; set: [string, string][]; where?: string; always: boolean }
  | { type: 'addColumn'; name: string; expression: string }
  | { type: 'dropColumns'; names: string[] }
  | { type: 'renameColumn'; from: string; to: string }
  | { type: 'castColumn'; name: string; to: string; lenient: boolean; clean?: string }
  | { type: 'normalizeColumnNames' }
  | { type: 'join'; how: 'inner' | 'left' | 'right' | 'full'; url: string; name: string; on: string }
  | { type: 'createView'; name: string; sql: string }
  | { type: 'dropView'; name: string }
  | { type: 'renameView'; from: string; to: string }
  | { type: 'createIndex'; column: string }
  | { type: 'dropIndex'; column: string }
  | { type: 'rebuildIndex'; column: string }
  | { type: 'reindex' }
  | { type: 'setName'; name: string }
  | { type: 'setDescription'; description: string }
  | { type: 'setConfig'; key: string; value: string; urlPrefix?: string }
  | { type: 'commit'; message: string }
  | { type: 'undo' }
  | { type: 'reset' }
  | { type: 'restore'; version: string | number }
  | { type: 'show'; what: 'history' | 'status' | 'schema' | 'count' | 'views' }
  | { type: 'explain'; sql?: string }
  | { type: 'describeData'; columns: string[] }
  | { type: 'select'; sql: string };

/** Statements with no SQL in them: complete once they parse, so the REPL runs them at the end of their line. */
const WITHOUT_SQL = new Set<Statement['type']>([
  'attach', 'detach', 'replace', 'dropColumns', 'renameColumn', 'castColumn', 'normalizeColumnNames', 'dropView', 'renameView',
  'createIndex', 'dropIndex', 'rebuildIndex', 'reindex', 'setName', 'setDescription', 'setConfig', 'commit', 'undo', 'reset',
  'restore', 'show', 'describeData',
]);

/** True when `text` is one whole statement without SQL in it (SHOW …, COMMIT '…', ATTACH '…', EXPLAIN, …). */
export function isCompleteWithoutSql(text: string): boolean {
  try {
    const statements = parse(text, {}) as Statement[];
    const [only] = statements;
    return statements.length === 1 && only !== undefined && (WITHOUT_SQL.has(only.type) || (only.type === 'explain' && only.sql === undefined));
  } catch {
    return false;
  }
}

/** The words a statement starts with (the REPL's Tab completion offers them first). */
export const STATEMENT_KEYWORDS = [
  'ADD', 'ALWAYS', 'ATTACH', 'CAST', 'COMMIT', 'CREATE', 'DELETE', 'DESCRIBE', 'DETACH', 'DROP', 'EXPLAIN', 'FILTER', 'FULL',
  'INNER', 'JOIN', 'LEFT', 'NORMALIZE', 'REBUILD', 'REINDEX', 'RENAME', 'REPLACE', 'RESET', 'RESTORE', 'RIGHT', 'SAVE', 'SELECT',
  'SET', 'SHOW', 'UNDO', 'UPDATE', 'WITH',
];

interface GrammarFailure {
  message: string;
  expected: { type: string; text?: string; description?: string }[] | null;
  found: string | null;
  location: { start: { line: number; column: number; offset: number } };
}

/** What the grammar expected, as a reader would say it: keywords and names, not spaces or comments. */
function expectation({ message, expected, location }: GrammarFailure, text: string): string {
  if (expected === null) return message; // an error raised by a grammar action says it all
  const words = expected.flatMap((e) => {
    if (e.type === 'end') return ['end of input'];
    if (e.type === 'other') return e.description === 'space' ? [] : [e.description ?? ''];
    // the openings of comments, strings and $…$ inside SQL are noise here
    if (e.type === 'literal' && !['--', '/*', "'", '$'].includes(e.text ?? '')) return [`"${e.text}"`];
    return [];
  });
  const list = [...new Set(words)];
  const wanted = list.length <= 1 ? (list[0] ?? 'something else') : `${list.slice(0, -1).join(', ')} or ${list.at(-1)}`;
  const found = /^(?:[\p{L}\p{N}_]+|\S)/u.exec(text.slice(location.start.offset))?.[0];
  return `expected ${wanted} but found ${found === undefined ? 'the end' : `'${found}'`}`;
}

/**
 * The statements in `text`, separated by ";". A syntax error is INVALID_ARGUMENT naming the line
 * and column and what was expected there; nothing is returned then, so nothing runs.
 */
export function parseStatements(text: string): Statement[] {
  if (typeof text !== 'string') throw new BundlebaseError('INVALID_ARGUMENT', 'Statements must be a string');
  try {
    return parse(text, {}) as Statement[];
  } catch (err) {
    if (!(err instanceof GrammarError)) throw err;
    // the generated parser is untyped JavaScript: its error carries these fields (peggy's documented shape)
    const failure = err as unknown as GrammarFailure;
    const { line, column } = failure.location.start;
    const excerpt = text.split('\n')[line - 1] ?? '';
    throw new BundlebaseError('INVALID_ARGUMENT', `Syntax error at line ${line}, column ${column}: ${expectation(failure, text)}\n  ${excerpt}\n  ${' '.repeat(Math.max(0, column - 1))}^`);
  }
}
