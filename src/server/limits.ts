import os from 'node:os';

/**
 * Resource limits of the network servers. Every field has a default that keeps one misbehaving
 * client from taking the server (or the machine) down; `serve()` and `bundlebase serve` accept
 * overrides.
 */
export interface ServerLimits {
  /** A statement running longer is interrupted (ms; 0: no limit). */
  statementTimeoutMs: number;
  /** DuckDB `memory_limit` of the sandboxed database (e.g. '1GB'); beyond it DuckDB spills or fails the query. */
  memoryLimit: string;
  /** DuckDB worker threads of the sandboxed database. */
  threads: number;
  /** Where DuckDB spills; default: a private temporary directory removed at close. */
  spillDirectory?: string;
  /** Statements running at once across all clients; more wait (up to the statement timeout). */
  maxConcurrentQueries: number;
  /** Client connections held at once per server; more are refused. */
  maxConnections: number;
  /** A connection with no request for this long is closed (ms). */
  idleTimeoutMs: number;
  /** A connection that has not authenticated within this is closed (ms). */
  authTimeoutMs: number;
  /** Largest message a client may send (bytes). */
  maxMessageBytes: number;
  /** Prepared statements kept (per pg connection; per Flight server); least recently used is dropped. */
  maxPreparedStatements: number;
  /** Flight bearer tokens expire after this (ms). */
  tokenTtlMs: number;
  /** Flight bearer tokens held at once; the oldest is dropped. */
  maxTokens: number;
  /** Graceful shutdown: running streams get this long to finish before they are cut (ms). */
  shutdownGraceMs: number;
}

export const DEFAULT_LIMITS: Readonly<ServerLimits> = Object.freeze({
  statementTimeoutMs: 300_000,
  memoryLimit: `${Math.max(256, Math.floor(os.totalmem() / 4 / 2 ** 20))}MB`,
  threads: Math.max(1, Math.min(4, os.availableParallelism())),
  maxConcurrentQueries: 16,
  maxConnections: 100,
  idleTimeoutMs: 600_000,
  authTimeoutMs: 10_000,
  maxMessageBytes: 16 * 2 ** 20,
  maxPreparedStatements: 256,
  tokenTtlMs: 3_600_000,
  maxTokens: 10_000,
  shutdownGraceMs: 5_000,
});

/** The defaults with `overrides` applied (undefined fields keep their default). */
export function resolveLimits(overrides: Partial<ServerLimits> = {}): ServerLimits {
  const limits: ServerLimits = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(overrides)) {
    // keys come from Partial<ServerLimits> itself, so each value has its field's type
    if (value !== undefined) (limits as unknown as Record<string, unknown>)[key] = value;
  }
  return limits;
}
