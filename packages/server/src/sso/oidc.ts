import { type EmailTrust, usableEmail } from '../federation/claims.js';
import { type RelyingParty, relyingParty } from '../federation/oidc-rp.js';
import type { OutboundPolicy } from '../lib/outbound-fetch.js';
import { SSO_LIMITS } from './limits.js';

/** What an OIDC connection needs. */
export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Where requests to the IdP may go (every one goes through `lib/outbound-fetch.ts`). */
  net: OutboundPolicy;
}

/** Who the IdP says signed in (OIDC or SAML). `email` is one the sign-in may rely on, or null. */
export interface SsoProfile {
  subject: string;
  email: string | null;
  name: string | null;
}

/**
 * An org's OIDC IdP as a relying party (`federation/oidc-rp.ts`), built from the connection as
 * stored now. Its discovery document is fetched at every use: a sign-in that starts is also a
 * probe, so an IdP that went down is noticed before the browser is sent to it (see failover).
 */
export function ssoRelyingParty(s: OidcSettings): RelyingParty {
  return relyingParty({ ...s, timeoutMs: SSO_LIMITS.idpTimeoutMs, discovery: 'every_use' });
}

/**
 * SSO relies on an address its IdP does not call verified — but never on one it calls
 * unverified (`email_verified` false or "false"): `unstated` is enough. This is safe because the
 * address only ever reaches an account through `completeSsoSignIn` (`resolve.ts`), which takes it
 * only at a domain the org has verified: `atVerifiedDomain` requires an `sso_domains` row of this
 * very org for the address's exact domain with `verified_at` set, and nothing sets that but the
 * org's `_latchkey-challenge` TXT record found in DNS (`domains.ts`; a verified domain belongs to
 * one org on the instance, and loses the state when the record is gone past the grace period). An
 * org that proved it controls a domain controls its mailboxes, and its IdP speaks for them; an
 * address anywhere else is refused (`email_not_allowed`) whatever the claim says.
 */
export const SSO_EMAIL_TRUST: EmailTrust = 'unless_unverified';

/** Signs the person in at the IdP: validates the callback and the ID token (see `RelyingParty.complete`). */
export async function completeOidc(
  rp: RelyingParty,
  callback: URLSearchParams,
  f: Parameters<RelyingParty['complete']>[1],
): Promise<SsoProfile> {
  const p = await rp.complete(callback, f);
  return { subject: p.subject, email: usableEmail(p.email, SSO_EMAIL_TRUST), name: p.name };
}
