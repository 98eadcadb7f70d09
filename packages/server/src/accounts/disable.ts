import type { Transaction } from 'kysely';
import { type Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import type { Database } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import type { Executor } from '../db/executor.js';

/** Whether an instance admin disabled the account (an unknown account counts as disabled). */
export async function isDisabled(db: Executor, userId: string): Promise<boolean> {
  const row = await db.selectFrom('users').select('disabled_at').where('id', '=', userId).executeTakeFirst();
  return !row || row.disabled_at !== null;
}

/**
 * Disables an account: every session ends now, and while it stays disabled the auth tiers refuse
 * its personal tokens and the OAuth tokens that act for it (they are kept, to work again when the
 * account is re-enabled), and no refresh token of it rotates. Audited on the instance log and on
 * the person's activity log. Returns the hashes of the sessions ended, or null when the account
 * does not exist or was disabled already. After the transaction commits, announce
 * `{ user }` and each hash (`deps.auth.changed`) so no node keeps a cached credential.
 */
export async function disableUser(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  userId: string,
): Promise<string[] | null> {
  const now = clock.now();
  const marked = await trx
    .updateTable('users')
    .set({ disabled_at: now, updated_at: now })
    .where('id', '=', userId)
    .where('disabled_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  if (!marked) return null;
  const sessions = await trx
    .updateTable('sessions')
    .set({ revoked_at: now })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .returning('token_hash')
    .execute();
  await audit(trx, clock, who, {
    orgId: null,
    action: 'user.disabled',
    target: `user:${userId}`,
    data: { ended_sessions: sessions.length },
  });
  return sessions.map((s) => s.token_hash);
}

/**
 * Re-enables a disabled account. Returns the hashes of its live tokens (personal and OAuth), for
 * the caller to announce after commit so no node keeps refusing them from a cached refusal; null
 * when the account does not exist or was not disabled.
 */
export async function enableUser(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  userId: string,
): Promise<string[] | null> {
  const now = clock.now();
  const marked = await trx
    .updateTable('users')
    .set({ disabled_at: null, updated_at: now })
    .where('id', '=', userId)
    .where('disabled_at', 'is not', null)
    .returning('id')
    .executeTakeFirst();
  if (!marked) return null;
  await audit(trx, clock, who, { orgId: null, action: 'user.enabled', target: `user:${userId}` });
  const api = await trx
    .selectFrom('api_tokens')
    .select('token_hash')
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .execute();
  const oauth = await trx
    .selectFrom('oauth_tokens')
    .select('token_hash')
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .execute();
  return [...api, ...oauth].map((r) => r.token_hash);
}
