import { isValidEmail, normalizeEmail } from '../lib/email.js';

/**
 * The one reading of an identity provider's `email` and `email_verified` claims (OpenID Connect
 * Core §5.1), for every sign-in through another provider: Google, SSO over OIDC, and GitHub's
 * verified flag in the same words.
 *
 * What the provider said about the address:
 * - `verified`: `email_verified` is `true` or the string `"true"` (some providers send strings);
 * - `unverified`: `false` or `"false"`;
 * - `unstated`: anything else — absent, null, another string, a number.
 *
 * Pure: it does not know which provider spoke, nor whether anyone holds the address at Latchkey.
 */
export type EmailVerification = 'verified' | 'unverified' | 'unstated';

export function readEmailVerified(claim: unknown): EmailVerification {
  if (claim === true || claim === 'true') return 'verified';
  if (claim === false || claim === 'false') return 'unverified';
  return 'unstated';
}

/** The address a provider named (normalised, or null when absent or not a valid address) and what it said of it. */
export interface ClaimedEmail {
  address: string | null;
  verification: EmailVerification;
}

export function claimedEmail(email: unknown, emailVerified: unknown): ClaimedEmail {
  const address = typeof email === 'string' ? normalizeEmail(email) : null;
  return {
    address: address !== null && isValidEmail(address) ? address : null,
    verification: readEmailVerified(emailVerified),
  };
}

/**
 * How much a caller asks of the provider before it relies on an address:
 * - `verified_only`: the provider must say `verified` (social sign-in: anyone can run an account
 *   at Google, so only Google's word that the address was proven lets it find or make an account);
 * - `unless_unverified`: `unstated` is enough (SSO, where the caller itself restricts addresses to
 *   domains the org proved by DNS; see `sso/oidc.ts`).
 * Either way an address the provider calls `unverified` is never usable.
 */
export type EmailTrust = 'verified_only' | 'unless_unverified';

/** The address a caller may rely on under `trust`, or null. */
export function usableEmail(e: ClaimedEmail, trust: EmailTrust): string | null {
  if (e.address === null || e.verification === 'unverified') return null;
  if (trust === 'verified_only' && e.verification !== 'verified') return null;
  return e.address;
}
