import * as oauth from 'oauth4webapi';
import type { Cache } from '../cache/index.js';
import { newSecret, sha256Hex } from '../lib/secrets.js';

/** What an authorization request carries and its callback must match: fresh for every sign-in. */
export interface FlowSecrets {
  state: string;
  codeVerifier: string;
  nonce: string;
}

/** The flow's secrets and where the provider sends the browser back. */
export interface Flow extends FlowSecrets {
  redirectUri: string;
}

export function newFlowSecrets(): FlowSecrets {
  return {
    state: oauth.generateRandomState(),
    codeVerifier: oauth.generateRandomCodeVerifier(),
    nonce: oauth.generateRandomNonce(),
  };
}

/**
 * Where a caller keeps its started sign-ins: `namespace` prefixes the cache key, `ttlMs` bounds how
 * long a sign-in may take. The browser holds only a random id; the cache key is its SHA-256, so
 * the cache never holds a value that would open a transaction.
 */
export interface FlowStore {
  namespace: string;
  ttlMs: number;
}

const key = (s: Pick<FlowStore, 'namespace'>, id: string) => `${s.namespace}:${sha256Hex(id)}`;

/** Stores a started sign-in; returns the id for the browser to carry. */
export async function storeFlow(cache: Cache, s: FlowStore, value: object): Promise<string> {
  const id = newSecret();
  await cache.set(key(s, id), JSON.stringify(value), s.ttlMs);
  return id;
}

/**
 * Takes a started sign-in out of the cache (get-and-delete): a callback can use it once. Null for
 * no id, an id longer than any this issues, an unknown, used or expired one, or an unreadable value.
 * Does NOT check what is inside: the caller compares `state` and whatever else it bound.
 */
export async function takeFlow<T>(
  cache: Cache,
  s: Pick<FlowStore, 'namespace'>,
  id: string | undefined,
): Promise<T | null> {
  if (!id || id.length > 100) return null;
  const raw = await cache.getDel(key(s, id));
  if (!raw) return null;
  try {
    return JSON.parse(raw) as T;
  } catch {
    return null;
  }
}
