/**
 * SQL LIKE matching (`%` any run, `_` one character, `\` escapes the next) without a regular
 * expression: client patterns turned into backtracking regexes let `%%%…%Z` freeze the server.
 * Greedy matching that remembers only the last `%` takes O(pattern × text) at worst.
 */
export function likeMatches(text: string, pattern: string): boolean {
  const tokens = likeTokens(pattern);
  const chars = [...text];
  let t = 0;
  let p = 0;
  let starAt = -1; // token index just after the last `%`
  let starText = 0; // text position that `%` has consumed up to
  while (t < chars.length) {
    const token = tokens[p];
    if (token !== undefined && token !== ANY_RUN && (token === ANY_ONE || token === chars[t])) {
      t++;
      p++;
    } else if (token === ANY_RUN) {
      starAt = ++p;
      starText = t;
    } else if (starAt >= 0) {
      p = starAt;
      t = ++starText;
    } else {
      return false;
    }
  }
  while (tokens[p] === ANY_RUN) p++;
  return p === tokens.length;
}

const ANY_RUN = Symbol('%');
const ANY_ONE = Symbol('_');

function likeTokens(pattern: string): (string | typeof ANY_RUN | typeof ANY_ONE)[] {
  const tokens: (string | typeof ANY_RUN | typeof ANY_ONE)[] = [];
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '\\' && i + 1 < chars.length) tokens.push(chars[++i]!);
    else if (c === '%') {
      if (tokens.at(-1) !== ANY_RUN) tokens.push(ANY_RUN); // %% is %: keeps the work linear in the pattern
    } else if (c === '_') tokens.push(ANY_ONE);
    else tokens.push(c);
  }
  return tokens;
}
