import type { Cache } from '../../cache/index.js';
import {
  type Flow,
  type FlowSecrets,
  newFlowSecrets,
  storeFlow,
  takeFlow,
} from '../../federation/transaction.js';
import { SOCIAL_LIMITS } from '../limits.js';
import type { ProviderId } from './provider.js';

/** The cookie that names the browser's login transaction (an opaque id; the rest stays server-side). */
export const TRANSACTION_COOKIE = 'lk_oauth_tx';

/**
 * A started social sign-in: what the callback must match (state, nonce), what it needs (the PKCE
 * verifier), where to go afterwards, and — for linking — who started it from which session.
 */
export interface LoginTransaction extends FlowSecrets {
  provider: ProviderId;
  returnTo: string | null;
  link: { userId: string; sessionId: string } | null;
}

const STORE = { namespace: 'social:tx', ttlMs: SOCIAL_LIMITS.transactionTtlMs };

/** Stores a new transaction for `SOCIAL_LIMITS.transactionTtlMs`; returns the cookie value. */
export async function startTransaction(
  cache: Cache,
  t: Pick<LoginTransaction, 'provider' | 'returnTo' | 'link'>,
): Promise<{ id: string; tx: LoginTransaction }> {
  const tx: LoginTransaction = { ...t, ...newFlowSecrets() };
  return { id: await storeFlow(cache, STORE, tx), tx };
}

/** Takes the transaction out of the cache (get-and-delete): a callback can use it once. */
export async function takeTransaction(
  cache: Cache,
  id: string | undefined,
): Promise<LoginTransaction | null> {
  return takeFlow<LoginTransaction>(cache, STORE, id);
}

export function flowSecrets(tx: LoginTransaction, redirectUri: string): Flow {
  return { state: tx.state, codeVerifier: tx.codeVerifier, nonce: tx.nonce, redirectUri };
}
