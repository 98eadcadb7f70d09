import type { RateLimiter } from '../cache/index.js';
import { ApiError, rateLimited } from '../errors.js';
import { isValidEmail, normalizeEmail } from '../lib/email.js';

/** What a sign-up answers under the `waitlist` policy, on every path. */
export const WAITLISTED =
  'Thanks: new accounts need an operator’s approval. You will get an email when yours is approved.';

export function emailOrThrow(raw: string): string {
  const email = normalizeEmail(raw);
  if (!isValidEmail(email)) throw new ApiError('invalid_request', 'The email address is not valid.');
  return email;
}

/** Counts one event; over the budget → 429 with Retry-After. */
export async function limit(l: RateLimiter, key: string): Promise<void> {
  const r = await l.consume(key);
  if (!r.allowed) throw rateLimited(r.retryAfterSeconds);
}
