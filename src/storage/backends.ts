import type { Settings } from './config.js';
import { backendKey, type ObjectBackend, type ObjectLocation } from './objects.js';

/** Backends are reused per bucket and configuration (SDK clients keep their connections). */
const backends = new Map<string, Promise<ObjectBackend>>();

const BACKEND_MODULES = {
  s3: () => import('./s3.js'),
  azure: () => import('./azure.js'),
  http: () => import('./http.js'),
} satisfies Record<ObjectLocation['scheme'], () => Promise<{ createBackend: (l: ObjectLocation, url: string, s: Settings) => Promise<ObjectBackend> }>>;

/** The backend for `location`, its SDK loaded on first use (local work never loads one). */
export function backendFor(location: ObjectLocation, url: string, settings: Settings): Promise<ObjectBackend> {
  const key = backendKey(location, url, settings);
  let backend = backends.get(key);
  if (!backend) {
    backend = BACKEND_MODULES[location.scheme]().then((m) => m.createBackend(location, url, settings));
    backends.set(key, backend);
    // a failed setup (bad configuration) is not kept: the next call reports it again
    backend.catch(() => backends.delete(key));
  }
  return backend;
}
