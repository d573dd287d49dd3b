/**
 * Splitting typed input into statements: a small tokenizer that knows SQL's quotes and comments,
 * so a `;` inside '…', "…", $$…$$ or a comment never ends a statement.
 */

type TokenKind = 'space' | 'comment' | 'string' | 'identifier' | 'word' | 'semicolon' | 'symbol';

export interface Token {
  kind: TokenKind;
  text: string;
  /** False for a quote or block comment still open at the end of the text. */
  closed: boolean;
}

const WORD = /[\p{L}\p{N}_]/u;
const DOLLAR_TAG = /^\$(?:[\p{L}_][\p{L}\p{N}_]*)?\$/u;

/** The tokens of `text`, in order; their texts put together give `text` back. */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  while (at < text.length) {
    const token = tokenAt(text, at);
    tokens.push(token);
    at += token.text.length;
  }
  return tokens;
}

function tokenAt(text: string, at: number): Token {
  const c = text[at]!;
  const next = text[at + 1];
  if (/\s/.test(c)) return { kind: 'space', text: /^\s+/.exec(text.slice(at))![0], closed: true };
  if (c === '-' && next === '-') return upTo(text, at, 'comment', '\n', 2, true);
  if (c === '/' && next === '*') return upTo(text, at, 'comment', '*/', 2);
  if (c === "'") return quoted(text, at, 'string', "'", 1);
  // E'…' strings take backslash escapes
  if ((c === 'E' || c === 'e') && next === "'") return escapeString(text, at);
  if (c === '"') return quoted(text, at, 'identifier', '"', 1);
  if (c === '$') {
    const tag = DOLLAR_TAG.exec(text.slice(at))?.[0];
    if (tag) return upTo(text, at, 'string', tag, tag.length);
  }
  if (c === ';') return { kind: 'semicolon', text: c, closed: true };
  if (WORD.test(c) || (c === '$' && /\d/.test(next ?? ''))) {
    let end = at + 1;
    while (end < text.length && WORD.test(text[end]!)) end++;
    return { kind: 'word', text: text.slice(at, end), closed: true };
  }
  return { kind: 'symbol', text: c, closed: true };
}

/** From `at` through the first `close` after the opening (`skip` characters); open when none. */
function upTo(text: string, at: number, kind: TokenKind, close: string, skip: number, closedAtEnd = false): Token {
  const end = text.indexOf(close, at + skip);
  if (end < 0) return { kind, text: text.slice(at), closed: closedAtEnd };
  return { kind, text: text.slice(at, kind === 'comment' && close === '\n' ? end : end + close.length), closed: true };
}

/** A quote where the quote character doubled stands for itself ('it''s', "say ""hi"""). */
function quoted(text: string, at: number, kind: TokenKind, quote: string, skip: number): Token {
  let end = at + skip;
  for (;;) {
    end = text.indexOf(quote, end);
    if (end < 0) return { kind, text: text.slice(at), closed: false };
    if (text[end + 1] !== quote) return { kind, text: text.slice(at, end + 1), closed: true };
    end += 2;
  }
}

function escapeString(text: string, at: number): Token {
  let end = at + 2;
  while (end < text.length) {
    if (text[end] === '\\') end += 2;
    else if (text[end] === "'" && text[end + 1] === "'") end += 2;
    else if (text[end] === "'") return { kind: 'string', text: text.slice(at, end + 1), closed: true };
    else end++;
  }
  return { kind: 'string', text: text.slice(at), closed: false };
}

const significant = (t: Token) => t.kind !== 'space' && t.kind !== 'comment';

/**
 * The statement as it is run: comments dropped (a line comment would swallow what the REPL or
 * the library puts after it), spaces at the ends trimmed; '' when nothing is left.
 */
function statementText(tokens: Token[], oneLine = false): string {
  if (!tokens.some(significant)) return '';
  let text = '';
  tokens.forEach((t, i) => {
    if (significant(t)) text += t.text;
    // a run of spaces and comments: one space on one line, else the spaces as typed
    else if (!oneLine) text += t.kind === 'space' ? t.text : ' ';
    else if (i === 0 || significant(tokens[i - 1]!)) text += ' ';
  });
  return text.trim();
}

interface Split {
  /** The statements ended by a `;`, in order, without it; empty ones left out. */
  statements: string[];
  /** What follows the last `;` ('' when only spaces and comments). */
  rest: string;
  /** The rest ends inside a quote or block comment. */
  open: boolean;
}

export function splitStatements(text: string): Split {
  const statements: string[] = [];
  let current: Token[] = [];
  for (const token of tokenize(text)) {
    if (token.kind !== 'semicolon') {
      current.push(token);
      continue;
    }
    const statement = statementText(current);
    if (statement) statements.push(statement);
    current = [];
  }
  const open = current.at(-1)?.closed === false;
  return { statements, rest: open || current.some(significant) ? current.map((t) => t.text).join('') : '', open };
}

/** The first word of a statement (without a leading "."), upper-cased; '' when it starts otherwise. */
export function leadingWord(statement: string): string {
  const tokens = tokenize(statement).filter(significant);
  const first = tokens[0]?.text === '.' ? tokens[1] : tokens[0];
  return first?.kind === 'word' ? first.text.toUpperCase() : '';
}

/**
 * Collects typed lines into statements: a statement ends with `;` (several may share a line) or
 * with a blank line; a statement starting with one of the REPL's commands also ends with its line.
 */
export class StatementReader {
  private buffer = '';
  private lines: string[] = [];

  constructor(private readonly endsWithLine: (statement: string) => boolean) {}

  /** A statement has begun and not ended: the REPL shows its continuation prompt. */
  get pending(): boolean {
    return this.buffer !== '';
  }

  /**
   * Takes one line; returns the statements it ends, in order, and once nothing is pending the
   * lines typed since the last time, as one line for the history.
   */
  feed(line: string): { statements: string[]; history?: string } {
    let statements: string[];
    let endedByBlank = false;
    if (this.pending && line.trim() === '' && !splitStatements(this.buffer).open) {
      statements = [statementText(tokenize(this.buffer))];
      this.buffer = '';
      endedByBlank = true;
    } else {
      const split = splitStatements(this.pending ? `${this.buffer}\n${line}` : line);
      statements = split.statements;
      this.buffer = split.rest;
      if (this.buffer && !split.open && this.endsWithLine(this.buffer)) {
        statements.push(statementText(tokenize(this.buffer)));
        this.buffer = '';
      }
    }
    this.lines.push(line);
    if (this.pending) return { statements };
    const history = statementText(tokenize(this.lines.join('\n')), true);
    this.lines = [];
    if (!history) return { statements };
    return { statements, history: endedByBlank ? `${history};` : history };
  }

  /** At the end of the input: what is pending, run as a last statement. */
  end(): string[] {
    const rest = statementText(tokenize(this.buffer));
    this.discard();
    return rest ? [rest] : [];
  }

  /** Drops the statement being typed (Ctrl-C). */
  discard(): void {
    this.buffer = '';
    this.lines = [];
  }
}
