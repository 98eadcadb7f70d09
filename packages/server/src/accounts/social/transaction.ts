import * as oauth from 'oauth4webapi';
import type { Cache } from '../../cache/index.js';
import { newSecret, sha256Hex } from '../../lib/secrets.js';
import { SOCIAL_LIMITS } from '../limits.js';
import type { FlowSecrets, ProviderId } from './provider.js';

/** The cookie that names the browser's login transaction (an opaque id; the rest stays server-side). */
export const TRANSACTION_COOKIE = 'lk_oauth_tx';

/**
 * A started social sign-in: what the callback must match (state, nonce), what it needs (the PKCE
 * verifier), where to go afterwards, and — for linking — who started it from which session.
 */
export interface LoginTransaction {
  provider: ProviderId;
  state: string;
  codeVerifier: string;
  nonce: string;
  returnTo: string | null;
  link: { userId: string; sessionId: string } | null;
}

const key = (id: string) => `social:tx:${sha256Hex(id)}`;

/** Stores a new transaction for `SOCIAL_LIMITS.transactionTtlMs`; returns the cookie value. */
export async function startTransaction(
  cache: Cache,
  t: Pick<LoginTransaction, 'provider' | 'returnTo' | 'link'>,
): Promise<{ id: string; tx: LoginTransaction }> {
  const tx: LoginTransaction = {
    ...t,
    state: oauth.generateRandomState(),
    codeVerifier: oauth.generateRandomCodeVerifier(),
    nonce: oauth.generateRandomNonce(),
  };
  const id = newSecret();
  await cache.set(key(id), JSON.stringify(tx), SOCIAL_LIMITS.transactionTtlMs);
  return { id, tx };
}

/** Takes the transaction out of the cache (get-and-delete): a callback can use it once. */
export async function takeTransaction(
  cache: Cache,
  id: string | undefined,
): Promise<LoginTransaction | null> {
  if (!id || id.length > 100) return null;
  const raw = await cache.getDel(key(id));
  if (!raw) return null;
  try {
    return JSON.parse(raw) as LoginTransaction;
  } catch {
    return null;
  }
}

export function flowSecrets(tx: LoginTransaction, redirectUri: string): FlowSecrets {
  return { state: tx.state, codeVerifier: tx.codeVerifier, nonce: tx.nonce, redirectUri };
}
