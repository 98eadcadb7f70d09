import * as oauth from 'oauth4webapi';
import type { Cache } from '../cache/index.js';
import { newSecret, sha256Hex } from '../lib/secrets.js';
import { SSO_LIMITS } from './limits.js';

/** The cookie naming an OIDC sign-in's transaction (an opaque id; the rest stays server-side). */
export const SSO_TX_COOKIE = 'lk_sso_tx';

/**
 * A started SSO sign-in. OIDC: the id rides in a short-lived HttpOnly cookie and the callback must
 * match `state`. SAML: the id is the RelayState (the IdP's POST is cross-site, so a SameSite=Lax
 * cookie would not come back); the response is bound to our AuthnRequest by InResponseTo.
 */
export interface SsoTransaction {
  connectionId: string;
  state: string;
  codeVerifier: string;
  nonce: string;
  returnTo: string | null;
  /** The email the sign-in started with, if any: the failover's magic link goes there. */
  email: string | null;
}

const key = (id: string) => `sso:tx:${sha256Hex(id)}`;

export async function startSsoTransaction(
  cache: Cache,
  t: Pick<SsoTransaction, 'connectionId' | 'returnTo' | 'email'>,
): Promise<{ id: string; tx: SsoTransaction }> {
  const tx: SsoTransaction = {
    ...t,
    state: oauth.generateRandomState(),
    codeVerifier: oauth.generateRandomCodeVerifier(),
    nonce: oauth.generateRandomNonce(),
  };
  const id = newSecret();
  await cache.set(key(id), JSON.stringify(tx), SSO_LIMITS.transactionTtlMs);
  return { id, tx };
}

/** Takes the transaction out (get-and-delete): usable once. */
export async function takeSsoTransaction(
  cache: Cache,
  id: string | undefined,
): Promise<SsoTransaction | null> {
  if (!id || id.length > 100) return null;
  const raw = await cache.getDel(key(id));
  if (!raw) return null;
  try {
    return JSON.parse(raw) as SsoTransaction;
  } catch {
    return null;
  }
}
