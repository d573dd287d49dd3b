import type { BundleQueries } from './queries.js';
import type { RunningServer } from './pg.js';
import { BundlebaseError } from '../errors.js';

/** Placeholder until the Flight SQL server lands. */
export async function startFlightServer(_queries: BundleQueries, _options: { host?: string; port?: number; password?: string }): Promise<RunningServer> {
  throw new BundlebaseError('INVALID_ARGUMENT', 'The Arrow Flight SQL server is not available yet');
}
