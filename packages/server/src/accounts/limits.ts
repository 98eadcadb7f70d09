import type { Cache, RateLimiter } from '../cache/index.js';
import { HOUR, MINUTE } from '../lib/clock.js';

/** Every account-related limit, in one place. */
export const ACCOUNT_LIMITS = {
  /** Failed sign-ins from one IP before it must wait. */
  signinFailuresPerIp: { points: 20, windowSeconds: 15 * 60 },
  /** Failed sign-ins against one account from one IP before that IP must wait for that account. */
  signinFailuresPerAccountIp: { points: 5, windowSeconds: 15 * 60 },
  /**
   * Failed sign-ins against one account from browsers it does not know (no device cookie of
   * it), from anywhere, before they must wait: slows guessing one account from many IPs. A
   * browser that signed in to the account before is exempt (it has its own budget below), so
   * an attacker cannot lock the owner out.
   */
  signinFailuresPerAccount: { points: 10, windowSeconds: 60 * 60 },
  /** Failed sign-ins against one account from one browser that signed in to it before. */
  signinFailuresPerAccountDevice: { points: 5, windowSeconds: 15 * 60 },
  /** Verification links one signed-in person may ask to be sent again. */
  verificationResendsPerUser: { points: 3, windowSeconds: 60 * 60 },
  signupsPerIp: { points: 20, windowSeconds: 60 * 60 },
  magicLinksPerIp: { points: 10, windowSeconds: 60 * 60 },
  /** Beyond this, requests still answer 202 but no mail is sent (no mail bombing, no enumeration). */
  magicLinksPerEmail: { points: 5, windowSeconds: 60 * 60 },
  passwordChangeFailuresPerUser: { points: 5, windowSeconds: 15 * 60 },
  /** Password reset requests one IP may make. */
  passwordResetsPerIp: { points: 10, windowSeconds: 60 * 60 },
  /** Beyond this, reset requests for one address still answer the same but no mail is sent. */
  passwordResetsPerEmail: { points: 3, windowSeconds: 60 * 60 },
  /** Email changes one account may start (each mails a link to the new address). */
  emailChangesPerUser: { points: 5, windowSeconds: 60 * 60 },
  /** GitHub / Google sign-ins one IP may start (each holds a login transaction for a while). */
  socialStartsPerIp: { points: 30, windowSeconds: 10 * 60 },
} as const;

/** Social sign-in: how long a started sign-in may take, and how long a provider may. */
export const SOCIAL_LIMITS = {
  /** A login transaction (state, PKCE verifier, nonce) lives this long, and its cookie too. */
  transactionTtlMs: 10 * MINUTE,
  /** Each request to a provider (discovery, token, user info) gives up after this. */
  providerTimeoutMs: 10_000,
  /** An OpenID provider's discovery document is reused for this long. */
  discoveryTtlMs: HOUR,
} as const;

export type AccountLimiters = Record<keyof typeof ACCOUNT_LIMITS, RateLimiter>;

export function accountLimiters(cache: Cache): AccountLimiters {
  const out = {} as AccountLimiters;
  for (const [name, l] of Object.entries(ACCOUNT_LIMITS)) {
    out[name as keyof typeof ACCOUNT_LIMITS] = cache.limiter({ name: `accounts:${name}`, ...l });
  }
  return out;
}
