import { readFile } from 'node:fs/promises';
import { errorMessage, invalidArgument, notFound } from '../errors.js';
import { startPgServer, type RunningServer } from './pg.js';
import { BundleQueries } from './queries.js';
import { BundleWrites } from './writes.js';
import { resolveLimits, type ServerLimits } from './limits.js';
import type { Trust } from '../bundle/load.js';

export type { ServerLimits } from './limits.js';
export { DEFAULT_LIMITS } from './limits.js';

/** PEM certificate chain and private key (file paths) for TLS on both servers. */
export interface TlsFiles {
  cert: string;
  key: string;
}

export interface ServeOptions {
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** PostgreSQL wire port; 0 picks a free one; undefined: no PostgreSQL server. */
  pgPort?: number;
  /** Arrow Flight SQL port; 0 picks a free one; undefined: no Flight server. */
  flightPort?: number;
  /** Password clients must give (any user name); default: BUNDLEBASE_PASSWORD, else none. */
  password?: string;
  /** Read the password from this file (first line); an alternative to `password` that `ps` cannot show. */
  passwordFile?: string;
  /** Serve TLS (pg: SSLRequest; Flight: gRPC secure credentials). */
  tls?: TlsFiles;
  /** What the bundle may read beyond its own directories (see `open()`); clients never widen it. */
  trust?: Trust;
  /** Resource limits; unset fields keep {@link DEFAULT_LIMITS}. */
  limits?: Partial<ServerLimits>;
  /**
   * Let authenticated clients run the statement language (README, "Statements"), each session
   * committing as the library does; needs a password. Default false: read-only.
   */
  writable?: boolean;
}

export interface Servers {
  pgPort?: number;
  flightPort?: number;
  close(): Promise<void>;
}

/** The first line of a password file (kept out of `ps`, unlike --password). */
async function readPasswordFile(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).split(/\r?\n/)[0]!;
  } catch (err) {
    throw notFound(`Password file ${file} cannot be read: ${errorMessage(err)}`, err);
  }
}

/**
 * Serves a committed bundle read-only: `SELECT … FROM bundle` (and each view by name) over the
 * PostgreSQL wire protocol and/or Arrow Flight SQL, from a sandboxed DuckDB database that can
 * read only the bundle's own sources.
 */
export async function serve(url: string, options: ServeOptions = {}): Promise<Servers> {
  const limits = resolveLimits(options.limits);
  const queries = await BundleQueries.open(url, limits, { trust: options.trust });
  const password = options.passwordFile !== undefined ? await readPasswordFile(options.passwordFile) : (options.password ?? process.env.BUNDLEBASE_PASSWORD ?? undefined);
  if (password === '') throw invalidArgument('An empty password would let anyone in: give a real one, or none to serve without authentication');
  if (options.writable && password === undefined) {
    await queries.close();
    throw invalidArgument('A writable server needs a password (--password-file, $BUNDLEBASE_PASSWORD or --password): anyone reaching the port could change the bundle');
  }
  const writes = options.writable ? new BundleWrites(queries.bundle.url, options.trust, () => queries.reload()) : undefined;
  const running: RunningServer[] = [];
  const servers: Servers = {
    close: async () => {
      await Promise.all(running.map((s) => s.close()));
      await writes?.close();
      await queries.close();
    },
  };
  try {
    if (options.pgPort !== undefined) {
      const pg = await startPgServer(queries, { host: options.host, port: options.pgPort, password, tls: options.tls, limits, writes });
      running.push(pg);
      servers.pgPort = pg.port;
    }
    if (options.flightPort !== undefined) {
      const { startFlightServer } = await import('./flight.js');
      const flight = await startFlightServer(queries, { host: options.host, port: options.flightPort, password, tls: options.tls, limits, writes });
      running.push(flight);
      servers.flightPort = flight.port;
    }
  } catch (err) {
    await servers.close();
    throw err;
  }
  return servers;
}
