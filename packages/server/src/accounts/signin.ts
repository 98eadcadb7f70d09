import type { Transaction } from 'kysely';
import { type Actor, audit } from '../audit/log.js';
import type { Database } from '../db/schema.js';
import { ApiError } from '../http/errors.js';
import { addMs, type Clock } from '../lib/clock.js';
import { newId, newSecret, sha256Hex } from '../lib/secrets.js';
import { enforcingOrgOf } from '../sso/queries.js';
import { SESSION_TTL_MS } from './sessions.js';

/**
 * How a person proved who they are, as recorded in the audit log. `password_change`: the fresh
 * session a password change hands out (the person proved the current password, or held a session).
 */
export type SigninMethod = 'password' | 'password_change' | 'magic_link' | 'github' | 'google' | 'sso';

/**
 * Creates a session; returns the cookie value (shown once) and the row id. Only its hash is
 * stored. Not exported: every session begins in `signIn`, after the SSO enforcement check.
 */
async function createSession(
  trx: Transaction<Database>,
  clock: Clock,
  s: { userId: string; orgId: string | null; ip: string | null; userAgent: string | null },
) {
  const token = newSecret();
  const id = newId();
  const now = clock.now();
  await trx
    .insertInto('sessions')
    .values({
      id,
      token_hash: sha256Hex(token),
      user_id: s.userId,
      org_id: s.orgId,
      ip: s.ip,
      user_agent: s.userAgent?.slice(0, 512) ?? null,
      created_at: now,
      last_seen_at: now,
      expires_at: addMs(now, SESSION_TTL_MS),
    })
    .execute();
  return { id, token, expiresAt: addMs(now, SESSION_TTL_MS) };
}

/**
 * Signs a person in: a new session (starting in `orgId`) and its `user.signin` audit event, in the
 * caller's transaction. Returns the session; its `token` goes into the cookie.
 *
 * The one place SSO enforcement is checked: a member of an org that enforces SSO signs in only
 * by `sso`; any other method throws `sso_required` (naming where to go) and nothing is written.
 */
export async function signIn(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  s: { userId: string; orgId: string | null; method: SigninMethod },
) {
  if (s.method !== 'sso') {
    const org = await enforcingOrgOf(trx, s.userId);
    if (org) {
      throw new ApiError('sso_required', `Members of ${org.name} sign in with single sign-on.`, {
        extra: { org: org.slug, sso_url: `/api/sso/start?org=${encodeURIComponent(org.slug)}` },
      });
    }
  }
  const session = await createSession(trx, clock, {
    userId: s.userId,
    orgId: s.orgId,
    ip: who.ip,
    userAgent: who.userAgent,
  });
  await audit(
    trx,
    clock,
    { ...who, actor: `user:${s.userId}` },
    {
      orgId: null,
      action: 'user.signin',
      target: `user:${s.userId}`,
      data: { method: s.method, session_id: session.id },
    },
  );
  return session;
}
