import type { Transaction } from 'kysely';
import { type Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import type { Database } from '../db/schema.js';
import type { IdentityProvider } from '../db/schema/accounts.js';
import type { Clock } from '../lib/clock.js';
import { newId } from '../lib/secrets.js';
import type { Executor } from '../db/executor.js';

const COLUMNS = ['id', 'provider', 'subject', 'user_id', 'email', 'email_verified', 'created_at'] as const;

export async function findIdentity(db: Executor, provider: IdentityProvider, subject: string) {
  return db
    .selectFrom('identities')
    .select(COLUMNS)
    .where('provider', '=', provider)
    .where('subject', '=', subject)
    .executeTakeFirst();
}

export async function listIdentities(db: Executor, userId: string) {
  return db
    .selectFrom('identities')
    .select(COLUMNS)
    .where('user_id', '=', userId)
    .orderBy('created_at', 'asc')
    .orderBy('id', 'asc')
    .execute();
}

export interface NewIdentity {
  provider: IdentityProvider;
  subject: string;
  userId: string;
  email: string | null;
  emailVerified: boolean;
  /** Why it was linked, for the audit log: signup, verified_email, settings. */
  via: 'signup' | 'verified_email' | 'settings';
}

/** Links a provider account to a user and audits it, in the caller's transaction. */
export async function linkIdentity(trx: Transaction<Database>, clock: Clock, who: Actor, i: NewIdentity) {
  const id = newId();
  await trx
    .insertInto('identities')
    .values({
      id,
      provider: i.provider,
      subject: i.subject,
      user_id: i.userId,
      email: i.email,
      email_verified: i.emailVerified,
      created_at: clock.now(),
    })
    .execute();
  await audit(trx, clock, who, {
    orgId: null,
    action: 'identity.linked',
    target: `user:${i.userId}`,
    data: { identity_id: id, provider: i.provider, via: i.via },
  });
  return id;
}

export type UnlinkOutcome =
  { ok: true; provider: IdentityProvider } | { ok: false; reason: 'not_found' | 'last' };

/**
 * Unlinks one of the user's identities, unless it is their last way to sign in (no password and
 * no other identity). The user's row is locked first, so two concurrent unlinks cannot each
 * leave the other as the last one and then both remove it.
 */
export async function unlinkIdentity(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  userId: string,
  identityId: string,
): Promise<UnlinkOutcome> {
  const user = await trx
    .selectFrom('users')
    .select('password_hash')
    .where('id', '=', userId)
    .forUpdate()
    .executeTakeFirst();
  if (!user) return { ok: false, reason: 'not_found' };
  const all = await listIdentities(trx, userId);
  const target = all.find((i) => i.id === identityId);
  if (!target) return { ok: false, reason: 'not_found' };
  if (user.password_hash === null && all.length === 1) return { ok: false, reason: 'last' };
  await trx.deleteFrom('identities').where('id', '=', identityId).where('user_id', '=', userId).execute();
  await audit(trx, clock, who, {
    orgId: null,
    action: 'identity.unlinked',
    target: `user:${userId}`,
    data: { identity_id: identityId, provider: target.provider },
  });
  return { ok: true, provider: target.provider };
}
