import type { Cache, RateLimiter } from '../cache/index.js';

/** Every account-related limit, in one place. */
export const ACCOUNT_LIMITS = {
  /** Failed sign-ins from one IP before it must wait. */
  signinFailuresPerIp: { points: 20, windowSeconds: 15 * 60 },
  /** Failed sign-ins against one email before it must wait (slows guessing one account from many IPs). */
  signinFailuresPerAccount: { points: 5, windowSeconds: 15 * 60 },
  signupsPerIp: { points: 20, windowSeconds: 60 * 60 },
  magicLinksPerIp: { points: 10, windowSeconds: 60 * 60 },
  /** Beyond this, requests still answer 202 but no mail is sent (no mail bombing, no enumeration). */
  magicLinksPerEmail: { points: 5, windowSeconds: 60 * 60 },
  passwordChangeFailuresPerUser: { points: 5, windowSeconds: 15 * 60 },
} as const;

export type AccountLimiters = Record<keyof typeof ACCOUNT_LIMITS, RateLimiter>;

export function accountLimiters(cache: Cache): AccountLimiters {
  const out = {} as AccountLimiters;
  for (const [name, l] of Object.entries(ACCOUNT_LIMITS)) {
    out[name as keyof typeof ACCOUNT_LIMITS] = cache.limiter({ name: `accounts:${name}`, ...l });
  }
  return out;
}
