import type { Transaction } from 'kysely';
import { type Actor, audit } from '../audit/log.js';
import type { Database } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { createSession } from './sessions.js';

/** How a person proved who they are, as recorded in the audit log. */
export type SigninMethod = 'password' | 'magic_link';

/**
 * Signs a person in: a new session (starting in `orgId`) and its `user.signin` audit event, in the
 * caller's transaction. Returns the session; its `token` goes into the cookie.
 */
export async function signIn(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  s: { userId: string; orgId: string | null; method: SigninMethod },
) {
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
