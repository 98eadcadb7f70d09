import { sql, type Transaction } from 'kysely';
import { likeEscape } from '../db/like.js';
import { type Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import type { Database } from '../db/schema.js';
import { ApiError } from '../errors.js';
import type { Clock } from '../lib/clock.js';
import { lockOwners } from '../orgs/queries.js';
import { revokeOAuthTokens, revokeTree } from '../tokens/queries.js';

/** What stands in for an email or a name in the audit rows of a deleted account. */
export const SCRUBBED = '[deleted]';

export interface Deleted {
  userId: string;
  /** Token hashes of every credential ended, to announce after commit. */
  hashes: string[];
  /** The orgs removed with the account: those it was the only member of. */
  orgs: string[];
}

/**
 * Deletes an account, in `trx`:
 * 1. refuses (409 `last_owner`, naming the org) while the person is the only owner of an org
 *    that has other members: ownership must pass on first;
 * 2. ends every credential at once: sessions, personal tokens and everything minted from them,
 *    OAuth tokens and grants;
 * 3. removes the orgs the person is the only member of (their personal orgs, with what they hold);
 * 4. keeps the audit rows, with the account's id, but with its email and name scrubbed from them;
 * 5. audits `user.deleted` and removes the account (memberships, identities and factors go with it).
 * After the transaction commits, announce `{ user }` and each hash (`deps.auth.changed`).
 */
export async function deleteAccount(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  userId: string,
): Promise<Deleted | null> {
  const user = await trx
    .selectFrom('users')
    .select(['id', 'email', 'name'])
    .where('id', '=', userId)
    .forUpdate()
    .executeTakeFirst();
  if (!user) return null;
  const orgs = await trx
    .selectFrom('memberships as m')
    .innerJoin('orgs as o', 'o.id', 'm.org_id')
    .select([
      'o.id',
      'o.slug',
      'o.name',
      'm.role',
      (eb) =>
        eb
          .selectFrom('memberships as x')
          .select(eb.fn.countAll<string>().as('n'))
          .whereRef('x.org_id', '=', 'm.org_id')
          .as('members'),
    ])
    .where('m.user_id', '=', userId)
    .orderBy('o.created_at')
    .execute();
  const personal: string[] = [];
  for (const o of orgs) {
    if (Number(o.members) <= 1) {
      personal.push(o.id);
      continue;
    }
    if (o.role !== 'owner') continue;
    const owners = await lockOwners(trx, o.id);
    if (owners.length === 1 && owners[0] === userId)
      throw new ApiError(
        'last_owner',
        `You are the only owner of ${o.name} (${o.slug}), which has other members: make someone else an owner, or remove them, first.`,
        { extra: { org: { id: o.id, slug: o.slug, name: o.name } } },
      );
  }

  const now = clock.now();
  const sessions = await trx
    .updateTable('sessions')
    .set({ revoked_at: now })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .returning('token_hash')
    .execute();
  const own = await trx
    .selectFrom('api_tokens')
    .select('id')
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .execute();
  const tokens = await revokeTree(
    trx,
    clock,
    own.map((t) => t.id),
    'account_deleted',
  );
  const oauth = await revokeOAuthTokens(trx, clock, { user_id: userId });
  await trx
    .updateTable('oauth_grants')
    .set({ revoked_at: now })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .execute();

  // The audit trail stays, with the id; the email (anywhere) and the name (in the rows about
  // the person) become `[deleted]`, as whole JSON string values.
  const email = JSON.stringify(user.email);
  const name = JSON.stringify(user.name);
  const scrubbed = JSON.stringify(SCRUBBED);
  await sql`
    update audit_events
    set data = replace(replace(data::text, ${email}, ${scrubbed}),
                       case when subject_user_id = ${userId}::uuid or actor = ${`user:${userId}`}
                            then ${name} else ${email} end, ${scrubbed})::jsonb
    where data::text like ${`%${likeEscape(email)}%`}
       or ((subject_user_id = ${userId}::uuid or actor = ${`user:${userId}`})
           and data::text like ${`%${likeEscape(name)}%`})`.execute(trx);

  if (personal.length > 0) await trx.deleteFrom('orgs').where('id', 'in', personal).execute();
  await trx.deleteFrom('magic_links').where('email', '=', user.email).execute();
  await trx.deleteFrom('waitlist').where('email', '=', user.email).execute();
  await audit(trx, clock, who, {
    orgId: null,
    action: 'user.deleted',
    target: `user:${userId}`,
    subjectUserId: userId,
    data: {
      deleted_orgs: personal,
      revoked_sessions: sessions.length,
      revoked_tokens: [...tokens.map((t) => t.prefix)],
      revoked_oauth_tokens: oauth.count,
    },
  });
  await trx.deleteFrom('users').where('id', '=', userId).execute();
  return {
    userId,
    hashes: [...[...sessions, ...tokens].map((r) => r.token_hash), ...oauth.hashes],
    orgs: personal,
  };
}
