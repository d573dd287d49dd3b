import { invalidArgument } from '../errors.js';

/**
 * Storage configuration (endpoints, regions, credentials), resolved per URL. Values come from, in
 * priority order: the `config` given to open()/create(), `BB_*` environment variables, and what the
 * bundles along the chain stored with setConfig. Within one source the longest matching URL prefix
 * wins. The SDKs' own environment variables and profiles (AWS_*, AZURE_STORAGE_*) apply beneath all.
 */
export interface ConfigEntry {
  key: string;
  value: string;
  urlPrefix?: string;
}

/** What open()/create() accept: `key: value` for every URL, or `urlPrefix: { key: value }`. */
export type ConfigInput = Record<string, string | Record<string, string>>;

/** The keys storage understands (docs: README "Object storage"); `*` marks secrets. */
const KNOWN_KEYS: Record<string, readonly string[]> = {
  s3: ['endpoint', 'region', 'access_key_id', 'secret_access_key*', 'session_token*', 'allow_http', 'virtual_hosted_style_request'],
  azure: ['connection_string*', 'account', 'access_key*', 'sas_token*', 'endpoint'],
  http: ['bearer_token*'],
};

const SECRET_KEYS = new Set(Object.entries(KNOWN_KEYS).flatMap(([ns, keys]) => keys.filter((k) => k.endsWith('*')).map((k) => `${ns}.${k.slice(0, -1)}`)));

/** Whether `key` holds a secret (stored only as an `env:NAME` reference). */
export function isSecretConfigKey(key: string): boolean {
  return SECRET_KEYS.has(key);
}

const ENV_REFERENCE = /^env:([A-Za-z_][A-Za-z0-9_]*)$/;

/** Refuses an unknown storage key, so a typo is not silently ignored. */
function checkConfigKey(key: string): void {
  const [ns, ...rest] = key.split('.');
  const known = KNOWN_KEYS[ns ?? ''];
  if (!known) return;
  const names = known.map((k) => k.replace(/\*$/, ''));
  if (!names.includes(rest.join('.'))) throw invalidArgument(`Unknown config key '${key}'; ${ns} keys: ${names.map((n) => `${ns}.${n}`).join(', ')}`);
}

/**
 * Refuses to record a secret in a manifest in clear text (anyone reading the bundle would read it):
 * a secret is stored only as a reference `env:NAME` to an environment variable.
 */
export function checkStoredConfig(key: string, value: string): void {
  checkConfigKey(key);
  if (SECRET_KEYS.has(key) && !ENV_REFERENCE.test(value)) {
    throw invalidArgument(
      `Config '${key}' is a secret and would be written into the manifest in clear text; store a reference to an environment variable instead ('env:NAME'), or pass it to open()/create() as { config: { '${key}': … } }`,
    );
  }
}

/** Entries from an open()/create() `config` option, checked. */
function fromInput(input: ConfigInput | undefined): ConfigEntry[] {
  if (input === undefined) return [];
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalidArgument('config must be an object of key: value (or urlPrefix: { key: value })');
  const entries: ConfigEntry[] = [];
  const add = (key: string, value: unknown, urlPrefix?: string) => {
    if (typeof value !== 'string') throw invalidArgument(`Config value for '${key}' must be a string`);
    checkConfigKey(key);
    entries.push(urlPrefix === undefined ? { key, value } : { key, value, urlPrefix });
  };
  for (const [k, v] of Object.entries(input)) {
    if (typeof v === 'object' && v !== null) for (const [key, value] of Object.entries(v)) add(key, value, k);
    else add(k, v);
  }
  return entries;
}

/** `BB_S3_ENDPOINT` → `s3.endpoint` (upstream's naming), for the known keys. */
function fromEnvironment(): ConfigEntry[] {
  const entries: ConfigEntry[] = [];
  for (const [ns, keys] of Object.entries(KNOWN_KEYS)) {
    for (const name of keys.map((k) => k.replace(/\*$/, ''))) {
      const value = process.env[`BB_${ns}_${name}`.toUpperCase()];
      if (value !== undefined && value !== '') entries.push({ key: `${ns}.${name}`, value });
    }
  }
  return entries;
}

/** The value among `entries` for `key` whose prefix matches `url` longest (unscoped ones match every url). */
function bestMatch(entries: readonly ConfigEntry[], key: string, url: string): ConfigEntry | undefined {
  let best: ConfigEntry | undefined;
  for (const e of entries) {
    if (e.key !== key || (e.urlPrefix !== undefined && !url.startsWith(e.urlPrefix))) continue;
    if (!best || (e.urlPrefix?.length ?? -1) >= (best.urlPrefix?.length ?? -1)) best = e;
  }
  return best;
}

export class Settings {
  private constructor(
    private readonly given: readonly ConfigEntry[],
    private readonly stored: readonly ConfigEntry[],
  ) {}

  /** Settings from an open()/create() `config` option (checked) and the environment. */
  static from(input?: ConfigInput): Settings {
    return new Settings(fromInput(input), []);
  }

  /** These settings with `input` (an open()/create() style `config`) given on top. */
  withConfig(input: ConfigInput | undefined): Settings {
    const entries = fromInput(input);
    return entries.length === 0 ? this : new Settings([...this.given, ...entries], this.stored);
  }

  /**
   * These settings with `entries`, stored by a bundle further down the chain, beneath what is
   * stored already (an extending bundle's setting overrides its parent's; later entries win).
   */
  withStored(entries: readonly ConfigEntry[]): Settings {
    return entries.length === 0 ? this : new Settings(this.given, [...entries, ...this.stored]);
  }

  /** The value of `key` for `url`, an `env:NAME` reference resolved; undefined when none is set. */
  get(key: string, url: string): string | undefined {
    const entry = bestMatch(this.given, key, url) ?? bestMatch(fromEnvironment(), key, url) ?? bestMatch(this.stored, key, url);
    if (!entry) return undefined;
    const reference = ENV_REFERENCE.exec(entry.value);
    if (!reference) return entry.value;
    const value = process.env[reference[1]!];
    if (value === undefined) throw invalidArgument(`Config '${key}' for ${url} refers to environment variable ${reference[1]}, which is not set`);
    return value;
  }

  /** Whether `key` is set to true for `url`. */
  flag(key: string, url: string): boolean {
    const value = this.get(key, url);
    return value !== undefined && /^(true|1|yes)$/i.test(value);
  }
}
