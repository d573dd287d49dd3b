import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { BundlebaseError } from '../errors.js';
import type { Settings } from './config.js';
import type { ObjectBackend, ObjectLocation } from './objects.js';

const TIMEOUT_MS = 60_000;

/** A failed HTTP response as an error the shared mapping understands (it reads `statusCode`). */
class HttpStatusError extends Error {
  constructor(readonly statusCode: number, url: string) {
    super(`HTTP ${statusCode} from ${url}`);
  }
}

class HttpTimeoutError extends Error {
  override readonly name = 'TimeoutError';

  constructor(url: string) {
    super(`No answer from ${url} within ${TIMEOUT_MS / 1000} s`);
  }
}

/**
 * A bundle served over HTTP(S), read-only. Plain HTTP cannot list a directory, so the commits are
 * found in the server's directory listing of `_bundlebase/` (nginx `autoindex on`, Apache
 * `Options +Indexes`, `python -m http.server`, …): every link in it names a file.
 */
export async function createBackend(location: ObjectLocation, url: string, settings: Settings): Promise<ObjectBackend> {
  const token = settings.get('http.bearer_token', url);
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  const fetchKey = async (key: string, method = 'GET'): Promise<Response | undefined> => {
    const target = `${location.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
    // the timeout bounds waiting for the answer's headers; a long download then streams at its own pace
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new HttpTimeoutError(target)), TIMEOUT_MS);
    const response = await fetch(target, { method, headers, signal: abort.signal, redirect: 'follow' }).finally(() => clearTimeout(timer));
    if (response.status === 404 || response.status === 410) return undefined;
    if (!response.ok) throw new HttpStatusError(response.status, target);
    return response;
  };
  const readOnly = () => {
    throw new BundlebaseError('READ_ONLY', `Bundle ${url} is served over HTTP, which is read-only: push it to a writable location to change it`);
  };
  return {
    async list(prefix) {
      const response = await fetchKey(prefix);
      if (!response) return [];
      const base = new URL(response.url);
      const names = new Set<string>();
      for (const [, href] of (await response.text()).matchAll(/href\s*=\s*["']([^"']+)["']/gi)) {
        const target = new URL(href!, base);
        if (target.origin !== base.origin || !target.pathname.startsWith(base.pathname)) continue;
        const name = decodeURIComponent(target.pathname.slice(base.pathname.length));
        if (name !== '' && !name.includes('/')) names.add(name);
      }
      return [...names];
    },
    async get(key) {
      const response = await fetchKey(key);
      return response && new Uint8Array(await response.arrayBuffer());
    },
    async download(key) {
      const response = await fetchKey(key);
      return response && Readable.fromWeb(response.body as NodeReadableStream);
    },
    async head(key) {
      const response = await fetchKey(key, 'HEAD');
      if (!response) return undefined;
      const size = Number(response.headers.get('content-length') ?? 0);
      // a server without validators leaves only the size to notice a change by
      const version = response.headers.get('etag') ?? response.headers.get('last-modified') ?? `size-${size}`;
      return { size, version };
    },
    putIfAbsent: readOnly,
    delete: readOnly,
    upload: readOnly,
    listAll: readOnly,
  };
}
