import path from 'node:path';
import type { Readable } from 'node:stream';
import { BundlebaseError, errorMessage, invalidArgument, ioError, notFound } from '../errors.js';
import type { Settings } from './config.js';

/**
 * A bucket (S3), container (Azure) or web server (HTTP): flat keys, `/` only a convention. Each
 * kind lives in its own module, loaded when first used so local work never loads a cloud SDK.
 */
export interface ObjectBackend {
  /** Names of the objects directly under `prefix` (which ends in `/`), without the prefix. */
  list(prefix: string): Promise<string[]>;
  get(key: string): Promise<Uint8Array | undefined>;
  /** Creates `key` unless it exists (a conditional create): false when it existed. */
  putIfAbsent(key: string, bytes: Uint8Array): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** Size and version (ETag) of an object, undefined when it does not exist. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** The object's bytes as a stream, undefined when it does not exist. */
  download(key: string): Promise<Readable | undefined>;
  /** Uploads a local file as `key` (overwriting), in parts when large, in constant memory. */
  upload(key: string, file: string): Promise<void>;
  /** Every key under `prefix` (recursively), without the prefix. */
  listAll(prefix: string): Promise<string[]>;
}

interface ObjectInfo {
  size: number;
  /** Changes whenever the object is rewritten: its ETag (or last-modified time where there is none). */
  version: string;
}

/** Where an object-store URL points: `s3://bucket/prefix`, `azure://container/prefix`, `https://host/prefix`. */
export interface ObjectLocation {
  scheme: 's3' | 'azure' | 'http';
  /** The bucket, container, or for HTTP the origin (`https://host:port`). */
  bucket: string;
  /** The key prefix, without leading or trailing `/` (empty at the bucket's root). */
  prefix: string;
}

const SCHEMES: Record<string, ObjectLocation['scheme']> = { s3: 's3', azure: 'azure', az: 'azure', http: 'http', https: 'http' };

/** The object location of `url`, or undefined when its scheme is not an object store's. */
export function objectLocation(url: string): ObjectLocation | undefined {
  const m = /^([a-z0-9+.-]+):\/\/([^/?#]*)(\/[^?#]*)?$/i.exec(url);
  const scheme = m && SCHEMES[m[1]!.toLowerCase()];
  if (!m || !scheme) return undefined;
  if (m[2] === '') throw invalidArgument(`Bundle location '${url}' names no ${scheme === 'http' ? 'host' : 'bucket or container'}`);
  const prefix = (m[3] ?? '').replace(/^\/+|\/+$/g, '');
  return { scheme, bucket: scheme === 'http' ? `${m[1]!.toLowerCase()}://${m[2]}` : m[2]!, prefix };
}

/** The url of an object location (`az://` is written `azure://`). */
export function objectUrl(location: ObjectLocation): string {
  const scheme = location.scheme === 'http' ? '' : `${location.scheme}://`;
  return `${scheme}${location.bucket}${location.prefix === '' ? '' : `/${location.prefix}`}`;
}

/** A relative path (as an extending bundle records its parent) against the object-store url `base`; never above the bucket. */
export function resolveObjectUrl(base: ObjectLocation, relative: string): string {
  const prefix = path.posix.join('/', base.prefix, relative).replace(/^\/+|\/+$/g, '');
  return objectUrl({ ...base, prefix });
}

/** How `to` is reached from `from` when both are in the same bucket (a relative path), else undefined. */
export function relativeObjectUrl(from: string, to: string): string | undefined {
  const [a, b] = [objectLocation(from), objectLocation(to)];
  if (!a || !b || a.scheme !== b.scheme || a.bucket !== b.bucket) return undefined;
  return path.posix.relative(`/${a.prefix}`, `/${b.prefix}`) || '.';
}

/** The part size for uploading `bytes`: `preferred`, or larger when that would need more than `maxParts` parts. */
export function uploadPartSize(bytes: number, preferred: number, maxParts: number): number {
  return Math.max(preferred, Math.ceil(bytes / maxParts));
}

/** `prefix/name`, or `name` at the root. */
export function joinKey(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}/${name}`;
}

const KEYS_BY_SCHEME: Record<ObjectLocation['scheme'], readonly string[]> = {
  s3: ['s3.endpoint', 's3.region', 's3.access_key_id', 's3.secret_access_key', 's3.session_token', 's3.allow_http', 's3.virtual_hosted_style_request'],
  azure: ['azure.connection_string', 'azure.account', 'azure.access_key', 'azure.sas_token', 'azure.endpoint'],
  http: ['http.bearer_token'],
};

/** What a backend's configuration is for `url`: backends (SDK clients, which keep connections open) are reused per bucket and key. */
export function backendKey(location: ObjectLocation, url: string, settings: Settings): string {
  const values = KEYS_BY_SCHEME[location.scheme].map((k) => settings.get(k, url) ?? null);
  return `${location.scheme}|${location.bucket}|${JSON.stringify(values)}`;
}

interface SdkFailure {
  name?: string;
  code?: string;
  statusCode?: number;
  $metadata?: { httpStatusCode?: number };
  details?: { errorCode?: string };
  cause?: unknown;
}

/** The HTTP status an SDK error carries, if any. */
export function statusOf(err: unknown): number | undefined {
  const e = (err ?? {}) as SdkFailure;
  return e.$metadata?.httpStatusCode ?? e.statusCode;
}

/** The service's or network's error code (`NoSuchBucket`, `ContainerNotFound`, `ECONNREFUSED`, …). */
export function codeOf(err: unknown): string {
  const e = (err ?? {}) as SdkFailure;
  const cause = (e.cause ?? {}) as SdkFailure;
  return e.details?.errorCode ?? e.code ?? cause.code ?? e.name ?? '';
}

const MISSING_CONTAINER = new Set(['NoSuchBucket', 'ContainerNotFound']);
const DENIED = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'AuthenticationFailed', 'AuthorizationFailure', 'InvalidToken', 'ExpiredToken']);
const UNREACHABLE = /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|TimeoutError|REQUEST_SEND_ERROR|UND_ERR_\w+)$/;

/** What a generic failure ("fetch failed") was caused by ("connect ECONNREFUSED …", "bad port"). */
function causeMessage(err: unknown): string {
  const cause = (err as SdkFailure | undefined)?.cause;
  return cause instanceof Error && cause.message !== errorMessage(err) ? cause.message : '';
}

/** An SDK or network failure on `url` as a BundlebaseError naming it and saying what to check. */
export function remoteError(err: unknown, url: string): BundlebaseError {
  if (err instanceof BundlebaseError) return err;
  // a HEAD answers without a body, so some SDKs report the code as 'Unknown': the status says more
  const code = codeOf(err) === 'Unknown' ? '' : codeOf(err);
  const status = statusOf(err);
  const detail = [errorMessage(err), causeMessage(err)].filter(Boolean).join(': ').split('\n')[0] || code || `HTTP ${status}`;
  if (MISSING_CONTAINER.has(code)) return notFound(`The bucket or container of ${url} does not exist (${code})`, err);
  if (DENIED.has(code) || status === 401 || status === 403) {
    return new BundlebaseError('PERMISSION_DENIED', `Access to ${url} was refused (${code || status}): check its credentials (README, "Object storage")`, { cause: err });
  }
  if (UNREACHABLE.test(code) || /ECONNREFUSED|ENOTFOUND|socket hang up|timed? ?out/i.test(detail)) {
    return ioError(`Cannot reach the storage of ${url}: ${detail}; check its endpoint and network`, err);
  }
  if (code === 'CredentialsProviderError') {
    return new BundlebaseError('PERMISSION_DENIED', `No credentials for ${url}: set s3.access_key_id and s3.secret_access_key (or AWS_ACCESS_KEY_ID, AWS_PROFILE, …; README, "Object storage")`, { cause: err });
  }
  if (/region is missing/i.test(detail)) return invalidArgument(`No region configured for ${url}: set s3.region (or AWS_REGION)`, err);
  return ioError(`Storage request for ${url} failed: ${detail}`, err);
}
