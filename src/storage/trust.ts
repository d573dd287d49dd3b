import { appendFile, mkdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * The per-user trust store: local source files this user attached on this machine, one absolute
 * path per line (like an editor's workspace trust). A bundle may read such a file even when it lies
 * outside the bundle's own directories, so one's own `ref` sources keep working after reopening.
 * Appending a line is atomic, so concurrent processes never lose each other's entries.
 */
function trustStorePath(): string {
  const explicit = process.env.BUNDLEBASE_TRUST_FILE;
  if (explicit) return path.resolve(explicit);
  const config = process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(config, 'bundlebase', 'trusted-sources');
}

/** Entries known to this process, by trust file (the file can change between calls in tests). */
const known = new Map<string, Set<string>>();

async function entries(file: string): Promise<Set<string>> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const set = known.get(file) ?? new Set<string>();
  for (const line of text.split('\n')) if (line.trim() !== '') set.add(line.trim());
  known.set(file, set);
  return set;
}

/** Whether `file` (absolute) was recorded as trusted by this user. */
export async function isTrustedSource(file: string): Promise<boolean> {
  const store = trustStorePath();
  if (known.get(store)?.has(file)) return true;
  return (await entries(store)).has(file);
}

/**
 * Records `file` (absolute) as trusted. A store that cannot be written leaves the file trusted for
 * this process only: reopening the bundle later then asks for `trust` explicitly.
 */
export async function recordTrustedSource(file: string): Promise<void> {
  if (await isTrustedSource(file)) return;
  const store = trustStorePath();
  known.get(store)!.add(file);
  try {
    await mkdir(path.dirname(store), { recursive: true, mode: 0o700 });
    await appendFile(store, `${file}\n`, { mode: 0o600 });
  } catch {
    // kept in memory (above); see the doc comment
  }
}
