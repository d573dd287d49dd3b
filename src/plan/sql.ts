/** SQL text helpers. Values never go through here: they are bound as `$n` parameters. */

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * Shifts every `$n` parameter reference in `sql` by `offset`, leaving string literals, quoted
 * identifiers and comments alone, so each operation can number its own parameters from `$1`.
 */
export function renumberParams(sql: string, offset: number): string {
  if (offset === 0) return sql;
  return mapCode(sql, (code) => code.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`));
}

/** Applies `fn` to the parts of `sql` outside literals, quoted identifiers and comments. */
export function mapCode(sql: string, fn: (code: string) => string): string {
  let out = '';
  let code = '';
  let i = 0;
  const flush = () => {
    out += fn(code);
    code = '';
  };
  while (i < sql.length) {
    const c = sql[i]!;
    const end = skipQuoted(sql, i);
    if (end > i) {
      flush();
      out += sql.slice(i, end);
      i = end;
    } else {
      code += c;
      i++;
    }
  }
  flush();
  return out;
}

/** `sql` with the inside of literals, quoted identifiers and comments blanked out (same length). */
export function maskQuoted(sql: string): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const end = skipQuoted(sql, i);
    if (end > i) {
      out += ' '.repeat(end - i);
      i = end;
    } else {
      out += sql[i];
      i++;
    }
  }
  return out;
}

/** Returns the index past a literal, quoted identifier or comment starting at `i`, or `i`. */
function skipQuoted(sql: string, i: number): number {
  const c = sql[i];
  if (c === "'" || c === '"') {
    let j = i + 1;
    while (j < sql.length) {
      if (sql[j] === c) {
        if (sql[j + 1] === c) j += 2;
        else return j + 1;
      } else j++;
    }
    return sql.length;
  }
  if (c === '-' && sql[i + 1] === '-') {
    const nl = sql.indexOf('\n', i);
    return nl < 0 ? sql.length : nl;
  }
  if (c === '/' && sql[i + 1] === '*') {
    const close = sql.indexOf('*/', i + 2);
    return close < 0 ? sql.length : close + 2;
  }
  return i;
}

/** Highest `$n` referenced in `sql` (0 if none), ignoring literals and comments. */
export function maxParamIndex(sql: string): number {
  let max = 0;
  mapCode(sql, (code) => {
    for (const m of code.matchAll(/\$(\d+)/g)) max = Math.max(max, Number(m[1]));
    return code;
  });
  return max;
}

/** A column name as SQL text: bare when it is a plain identifier, else double-quoted. */
function identText(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : quoteIdent(name);
}

/** `a = expr, "b c" = expr`: an update's assignments as one SET clause (its manifest form). */
export function formatSetClause(set: readonly (readonly [column: string, expression: string])[]): string {
  return set.map(([column, expression]) => `${identText(column)} = ${expression}`).join(', ');
}

/**
 * The assignments of a SET clause (`formatSetClause`'s inverse): split at the commas outside
 * parentheses, brackets, literals and quoted names, each at its first `=`. Undefined when an
 * assignment is not `column = expression`.
 */
export function parseSetClause(clause: string): [column: string, expression: string][] | undefined {
  const masked = maskQuoted(clause);
  const parts: [number, number][] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i <= masked.length; i++) {
    const c = masked[i];
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === undefined || (c === ',' && depth === 0)) {
      parts.push([start, i]);
      start = i + 1;
    }
  }
  const assignments: [string, string][] = [];
  for (const [from, to] of parts) {
    const eq = masked.slice(from, to).indexOf('=');
    if (eq < 0) return undefined;
    const target = /^(?:"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_]*))$/.exec(clause.slice(from, from + eq).trim());
    const expression = clause.slice(from + eq + 1, to).trim();
    if (!target || expression === '') return undefined;
    assignments.push([target[1]?.replaceAll('""', '"') ?? target[2]!, expression]);
  }
  return assignments;
}
