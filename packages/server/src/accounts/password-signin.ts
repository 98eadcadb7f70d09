import type { Actor } from '../audit/log.js';
import { audit } from '../audit/log.js';
import type { Deps } from '../deps.js';
import { ApiError, rateLimited } from '../http/errors.js';
import { sha256Hex } from '../lib/secrets.js';
import { listUserOrgs } from '../orgs/queries.js';
import { accountLimiters } from './limits.js';
import { verifyPassword } from './passwords.js';
import { revokeSession } from './sessions.js';
import { signIn } from './signin.js';
import { findUserByEmail, normalizeEmail } from './users.js';

/**
 * Signs a person in with email and password: failure budgets per IP and per account checked
 * first, every failure audited and counted, a new session on success (the browser's previous one
 * ends). Throws `rate_limited` or `invalid_credentials`; the caller sets the cookie.
 */
export async function passwordSignIn(
  deps: Pick<Deps, 'db' | 'clock' | 'cache' | 'auth'>,
  who: Actor & { ip: string },
  c: { email: string; password: string; previous: { userId: string; sessionId: string } | null },
) {
  const { db, clock } = deps;
  const limits = accountLimiters(deps.cache);
  const email = normalizeEmail(c.email);
  const accountKey = sha256Hex(email);
  for (const [l, key] of [
    [limits.signinFailuresPerIp, who.ip],
    [limits.signinFailuresPerAccount, accountKey],
  ] as const) {
    const r = await l.check(key);
    if (!r.allowed) throw rateLimited(r.retryAfterSeconds, 'Too many failed sign-ins; try again later.');
  }
  const user = await findUserByEmail(db, email);
  const ok = await verifyPassword(user?.password_hash ?? null, c.password);
  if (!user || !ok) {
    await limits.signinFailuresPerIp.consume(who.ip);
    await limits.signinFailuresPerAccount.consume(accountKey);
    await audit(db, clock, who, {
      orgId: null,
      action: 'user.signin_failed',
      target: user ? `user:${user.id}` : null,
      data: { method: 'password', ...(user ? {} : { email_sha256: accountKey }) },
    });
    throw new ApiError('invalid_credentials', 'The email or password is wrong.');
  }
  await limits.signinFailuresPerAccount.reset(accountKey);
  const org = (await listUserOrgs(db, user.id))[0] ?? null;
  let ended: string | null = null;
  const s = await db.transaction().execute(async (trx) => {
    // A new session at every sign-in; the one the browser held before (if any) ends.
    if (c.previous) ended = await revokeSession(trx, clock, c.previous.userId, c.previous.sessionId);
    return signIn(trx, clock, who, { userId: user.id, orgId: org?.id ?? null, method: 'password' });
  });
  if (ended) await deps.auth.changed({ token: ended });
  return { user: { id: user.id, email: user.email, name: user.name }, org, token: s.token };
}
