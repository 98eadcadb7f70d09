import type { Cache } from '../cache/index.js';
import { type FlowSecrets, newFlowSecrets, storeFlow, takeFlow } from '../federation/transaction.js';
import { newSecret, safeEqual, sha256Hex } from '../lib/secrets.js';
import { SSO_LIMITS } from './limits.js';

/** The cookie naming an OIDC sign-in's transaction (an opaque id; the rest stays server-side). */
export const SSO_TX_COOKIE = 'lk_sso_tx';

/**
 * The cookie that binds a SAML sign-in to the browser that started it: a random value whose hash
 * the transaction keeps. On https it is `SameSite=None; Secure` (the IdP's POST to the ACS is a
 * cross-site request, which a Lax cookie would not ride) under the `__Secure-` prefix, so only a
 * secure origin can set it. On plain http browsers refuse `SameSite=None` without `Secure`, so it
 * is Lax there: that works when the IdP is same-site with Latchkey (e.g. both on localhost, ports
 * do not count), which is what an http deployment is for — development; a remote IdP needs https.
 */
export function samlBindingCookie(secure: boolean): string {
  return secure ? '__Secure-lk_sso_bind' : 'lk_sso_bind';
}

/**
 * A started SSO sign-in. OIDC: the id rides in a short-lived HttpOnly cookie and the callback must
 * match `state`. SAML: the id is the RelayState, the browser holds the binding cookie whose hash is
 * `bindingHash`, and the response must answer `samlRequestId` (InResponseTo): a response posted
 * into a browser that did not start this very sign-in is refused. Either way the transaction is
 * taken out once (get-and-delete), so a replayed callback or response finds nothing.
 */
export interface SsoTransaction extends FlowSecrets {
  connectionId: string;
  returnTo: string | null;
  /** The email the sign-in started with, if any: the failover's magic link goes there. */
  email: string | null;
  /** SAML: the ID of the AuthnRequest sent, which the response's InResponseTo must name. */
  samlRequestId?: string;
  /** SAML: SHA-256 of the binding cookie's value (see `samlBindingCookie`). */
  bindingHash?: string;
}

const STORE = { namespace: 'sso:tx', ttlMs: SSO_LIMITS.transactionTtlMs };

export async function startSsoTransaction(
  cache: Cache,
  t: Pick<SsoTransaction, 'connectionId' | 'returnTo' | 'email' | 'samlRequestId' | 'bindingHash'>,
): Promise<{ id: string; tx: SsoTransaction }> {
  const tx: SsoTransaction = { ...t, ...newFlowSecrets() };
  return { id: await storeFlow(cache, STORE, tx), tx };
}

/** A fresh binding value (for the cookie) and its hash (for the transaction). */
export function newBinding(): { value: string; hash: string } {
  const value = newSecret();
  return { value, hash: sha256Hex(value) };
}

/** Whether the browser's binding cookie is the one the transaction was started with. */
export function bindingMatches(tx: SsoTransaction, cookieValue: string | undefined): boolean {
  if (!tx.bindingHash || !cookieValue || cookieValue.length > 100) return false;
  return safeEqual(sha256Hex(cookieValue), tx.bindingHash);
}

/** Takes the transaction out (get-and-delete): usable once. */
export async function takeSsoTransaction(
  cache: Cache,
  id: string | undefined,
): Promise<SsoTransaction | null> {
  return takeFlow<SsoTransaction>(cache, STORE, id);
}
