import { RenameColumn } from './renameColumn.js';

/**
 * A column name in lower snake case: word boundaries of camelCase become `_` (`customerId` →
 * `customer_id`, `HTTPServer` → `http_server`), every run of characters other than letters and
 * digits becomes one `_`, leading and trailing `_` are dropped, and a name starting with a digit
 * gets a leading `_` (`2024 total` → `_2024_total`). A name with no letter or digit becomes
 * `column_<position>` (1-based).
 */
export function normalizedName(name: string, position: number): string {
  const snake = name
    .replace(/(\p{Ll}|\p{N})(\p{Lu})/gu, '$1_$2')
    .replace(/(\p{Lu})(\p{Lu}\p{Ll})/gu, '$1_$2')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, '_')
    .replace(/^_+|_+$/g, '');
  if (snake === '') return `column_${position}`;
  return /^\p{N}/u.test(snake) ? `_${snake}` : snake;
}

/**
 * The renames that give `columns` their normalized names, in an order where no rename meets a
 * name still in use. Columns are taken in order; a name already taken (by an earlier column, or
 * differing only in case, which is the same name to the engine) gets `_2`, `_3`, … .
 */
export function normalizingRenames(columns: readonly string[]): RenameColumn[] {
  const taken = new Set<string>();
  const plan = columns.map((column, i) => {
    const base = normalizedName(column, i + 1);
    let target = base;
    for (let n = 2; taken.has(target); n++) target = `${base}_${n}`;
    taken.add(target);
    return { name: column, target };
  });
  return orderRenames(plan);
}

/**
 * Orders renames so each target is free when it runs: a column whose target another column still
 * holds waits for that one. A cycle (`a`→`b` while `b`→`a`) goes through a temporary name.
 */
function orderRenames(plan: { name: string; target: string }[]): RenameColumn[] {
  const renames: RenameColumn[] = [];
  const rename = (entry: { name: string }, to: string) => {
    renames.push(new RenameColumn(entry.name, to));
    entry.name = to;
  };
  const inUse = (name: string, except: object) => plan.some((e) => e !== except && e.name.toLowerCase() === name.toLowerCase());
  for (;;) {
    const pending = plan.filter((e) => e.name !== e.target);
    const first = pending[0];
    if (first === undefined) return renames;
    const ready = pending.find((e) => !inUse(e.target, e));
    if (ready) {
      rename(ready, ready.target);
      continue;
    }
    let temporary = `${first.target}__renaming`;
    while (inUse(temporary, first)) temporary += '_';
    rename(first, temporary);
  }
}
