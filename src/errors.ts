/** Error codes carried by every {@link BundlebaseError}. */
export type ErrorCode =
  | 'NOT_FOUND'
  | 'INVALID_ARGUMENT'
  | 'CONFLICT'
  | 'SQL_ERROR'
  | 'IO_ERROR'
  | 'CLOSED'
  | 'SOURCE_CHANGED'
  | 'DATA_CORRUPT'
  | 'READ_ONLY'
  | 'TIMEOUT'
  | 'BUSY'
  | 'CANCELLED'
  | 'UNTRUSTED'
  | 'PERMISSION_DENIED';

/** The one error type bundlebase throws: a stable `code` plus a message naming the offending thing. */
export class BundlebaseError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BundlebaseError';
    this.code = code;
  }
}

export const notFound = (message: string, cause?: unknown) =>
  new BundlebaseError('NOT_FOUND', message, { cause });
export const invalidArgument = (message: string, cause?: unknown) =>
  new BundlebaseError('INVALID_ARGUMENT', message, { cause });
export const conflict = (message: string) => new BundlebaseError('CONFLICT', message);
export const ioError = (message: string, cause?: unknown) =>
  new BundlebaseError('IO_ERROR', message, { cause });

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Node's fs errors carry a string `code`; this reads it without casting everywhere. */
export function fsErrorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err
    ? String((err as { code: unknown }).code)
    : undefined;
}

/** Maps a DuckDB error to a BundlebaseError, keeping DuckDB's message (it names the column or file). */
export function fromEngineError(err: unknown, context: string): BundlebaseError {
  if (err instanceof BundlebaseError) return err;
  // DuckDB appends an excerpt of the SQL it ran ("LINE 4: __step3 AS …"): ours, not the user's
  const message = errorMessage(err)
    .split(/\n\s*LINE \d+:/)[0]!
    // a query failing mid-stream is reported as the stream's closing, with the real error after it
    .replace(/^Invalid Input Error: Attempting to (?:execute|fetch from) an unsuccessful or closed (?:pending|streaming) query result\s*(?:Error: )?/, '')
    .trim();
  if (/^IO Error: (No files found|Cannot open file|.*No such file)/i.test(message)) {
    return new BundlebaseError('NOT_FOUND', `${context}: ${message}`, { cause: err });
  }
  const refused = /^Permission Error: Cannot access (?:file|directory) "([^"]*)"/.exec(message);
  if (refused) {
    return new BundlebaseError(
      'UNTRUSTED',
      `${context}: the SQL tried to read '${refused[1]}', which this bundle may not read. If you trust the bundle, ` +
        `open it with { trust: ['${refused[1]}'] } or { trust: true } (command line: --trust-path '${refused[1]}' or --trust)`,
      { cause: err },
    );
  }
  if (/^(IO|Permission) Error/i.test(message)) {
    return new BundlebaseError('IO_ERROR', `${context}: ${message}`, { cause: err });
  }
  return new BundlebaseError('SQL_ERROR', `${context}: ${message}`, { cause: err });
}

/** DuckDB's refusal of a relation with no columns (every column removed): an empty result to us. */
export function isNoColumnsError(err: unknown): boolean {
  return /SELECT list is empty/.test(errorMessage(err));
}
