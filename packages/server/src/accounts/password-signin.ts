import type { Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import type { Deps } from '../deps.js';
import { ApiError, rateLimited } from '../errors.js';
import { sha256Hex } from '../lib/secrets.js';
import { listUserOrgs } from '../orgs/queries.js';
import type { Logger } from 'pino';
import { deviceCookieValue, isKnownDevice } from './devices.js';
import { notifyNewDevice, signedInFromDevice } from './new-device.js';
import type { RateLimiter } from '../cache/index.js';
import { accountLimiters } from './limits.js';
import { verifyPassword } from './passwords.js';
import { revokeSession } from './sessions.js';
import { signIn } from './signin.js';
import { findUserByEmail } from './users.js';
import { normalizeEmail } from '../lib/email.js';

type Budget = readonly [RateLimiter, string];

/**
 * Signs a person in with email and password. Failure budgets are checked first, then every
 * failure is audited and counted against them:
 * - per IP (any account), and per (account, IP);
 * - per account from browsers the account does not know — a slower limit across all IPs;
 * - a browser that signed in to the account before (its device cookie) is exempt from that
 *   account-wide limit and has its own per-(account, device) budget instead, so failures from
 *   elsewhere never lock the owner out of their own browser.
 * Success: a new session (the browser's previous one ends) and the device cookie to keep (a browser
 * new to the account is audited and mailed about: `signedInFromDevice`); when
 * the account has a second factor (or must enrol one), the session is pending (`pending` says
 * which) and is no credential until `/login/second-factor` or `/api/auth/second-factor` finishes it.
 * Throws `rate_limited` or `invalid_credentials`; the caller sets the cookies.
 */
export async function passwordSignIn(
  deps: Pick<Deps, 'db' | 'clock' | 'cache' | 'auth' | 'mailer' | 'config'>,
  who: Actor & { ip: string },
  c: {
    email: string;
    password: string;
    previous: { userId: string; sessionId: string } | null;
    /** The browser's device cookie, if it sent one. */
    device?: string | undefined;
    /** Where a new-device mail that could not be sent is logged. */
    log: Pick<Logger, 'warn'>;
  },
) {
  const { db, clock } = deps;
  const limits = accountLimiters(deps.cache);
  const email = normalizeEmail(c.email);
  const accountKey = sha256Hex(email);
  const user = await findUserByEmail(db, email);
  const known = user ? await isKnownDevice(db, clock, user.id, c.device) : false;
  const perAccountIp: Budget = [limits.signinFailuresPerAccountIp, `${accountKey}:${who.ip}`];
  const perDevice: Budget | null = known
    ? [limits.signinFailuresPerAccountDevice, `${accountKey}:${sha256Hex(c.device!)}`]
    : null;
  const budgets: Budget[] = [
    [limits.signinFailuresPerIp, who.ip],
    perAccountIp,
    perDevice ?? [limits.signinFailuresPerAccount, accountKey],
  ];
  for (const [l, key] of budgets) {
    const r = await l.check(key);
    if (!r.allowed) throw rateLimited(r.retryAfterSeconds, 'Too many failed sign-ins; try again later.');
  }
  const ok = await verifyPassword(user?.password_hash ?? null, c.password);
  if (!user || !ok) {
    for (const [l, key] of budgets) await l.consume(key);
    await audit(db, clock, who, {
      orgId: null,
      action: 'user.signin_failed',
      target: user ? `user:${user.id}` : null,
      data: { method: 'password', ...(user ? {} : { email_sha256: accountKey }) },
    });
    throw new ApiError('invalid_credentials', 'The email or password is wrong.');
  }
  // The account-wide budget is not reset here: a success must not hand a guesser elsewhere a new one.
  await perAccountIp[0].reset(perAccountIp[1]);
  if (perDevice) await perDevice[0].reset(perDevice[1]);
  const org = (await listUserOrgs(db, user.id))[0] ?? null;
  const device = deviceCookieValue(c.device);
  let ended: string | null = null;
  const s = await db.transaction().execute(async (trx) => {
    // A new session at every sign-in; the one the browser held before (if any) ends.
    if (c.previous) ended = await revokeSession(trx, clock, c.previous.userId, c.previous.sessionId);
    const session = await signIn(trx, clock, who, {
      userId: user.id,
      orgId: org?.id ?? null,
      method: 'password',
    });
    const news = await signedInFromDevice(trx, clock, who, {
      userId: user.id,
      method: 'password',
      device,
      pending: session.pending,
    });
    return { ...session, news };
  });
  if (ended) await deps.auth.changed({ token: ended });
  await notifyNewDevice(deps, s.news, c.log);
  // `pending`: the password was right, but the sign-in waits for a second factor (or an enrolment).
  return {
    user: { id: user.id, email: user.email, name: user.name },
    org,
    token: s.token,
    device,
    pending: s.pending,
  };
}
