import type { Transaction } from 'kysely';
import type { Db } from '../db/connection.js';
import type { Executor } from '../db/executor.js';
import type { Database } from '../db/schema.js';
import type { Role } from '../db/schema/orgs.js';
import { revokeOAuthTokens } from '../tokens/queries.js';
import type { Clock } from '../lib/clock.js';

/**
 * SCIM storage shared by both resources: the org's SCIM connection, and the memberships and
 * credentials provisioning changes. Each resource's own rows are in `users/queries.ts` and
 * `groups/queries.ts`. Every function takes the org id and filters by it: no query reaches
 * another org's rows.
 */

/** The roles a SCIM group can map to (owners are managed in Latchkey). */
export type MappableRole = Exclude<Role, 'owner'>;

// ---- the org's SCIM connection -------------------------------------------------------------

export async function findConfigByTokenHash(db: Executor, hash: string) {
  return db
    .selectFrom('scim_configs as c')
    .innerJoin('orgs as o', 'o.id', 'c.org_id')
    .select(['c.org_id', 'c.token_prefix', 'o.slug', 'o.name'])
    .where('c.token_hash', '=', hash)
    .executeTakeFirst();
}

export async function getConfig(db: Executor, orgId: string) {
  return db.selectFrom('scim_configs').selectAll().where('org_id', '=', orgId).executeTakeFirst();
}

/** Sets the org's SCIM secret (replacing any old one at once); returns the old display prefix, if any. */
export async function setToken(
  trx: Transaction<Database>,
  clock: Clock,
  t: { orgId: string; hash: string | null; prefix: string | null; createdBy: string | null },
): Promise<string | null> {
  const now = clock.now();
  const old = await trx
    .selectFrom('scim_configs')
    .select('token_prefix')
    .where('org_id', '=', t.orgId)
    .forUpdate()
    .executeTakeFirst();
  const token = {
    token_hash: t.hash,
    token_prefix: t.prefix,
    token_created_at: t.hash ? now : null,
    token_created_by: t.createdBy,
    updated_at: now,
  };
  if (old) await trx.updateTable('scim_configs').set(token).where('org_id', '=', t.orgId).execute();
  else
    await trx
      .insertInto('scim_configs')
      .values({ org_id: t.orgId, created_at: now, ...token })
      .execute();
  return old?.token_prefix ?? null;
}

export async function recordSync(db: Db, orgId: string, at: Date, status: number): Promise<void> {
  await db
    .updateTable('scim_configs')
    .set({
      last_sync_at: at,
      last_sync_result: status < 400 ? 'success' : 'failure',
      last_sync_status: status,
    })
    .where('org_id', '=', orgId)
    .execute();
}

// ---- memberships and credentials --------------------------------------------------------------

export async function addMembership(db: Executor, clock: Clock, orgId: string, userId: string, role: Role) {
  await db
    .insertInto('memberships')
    .values({ org_id: orgId, user_id: userId, role, created_at: clock.now() })
    .execute();
}

export async function removeMembership(db: Executor, orgId: string, userId: string) {
  await db.deleteFrom('memberships').where('org_id', '=', orgId).where('user_id', '=', userId).execute();
}

/**
 * Ends what the person holds in this org only: OAuth grants and tokens bound to it. (Sessions and
 * personal tokens are the person's, not the org's: they lose the org because the membership went.)
 */
export async function revokeOrgCredentials(
  trx: Transaction<Database>,
  clock: Clock,
  orgId: string,
  userId: string,
) {
  const now = clock.now();
  const grants = await trx
    .updateTable('oauth_grants')
    .set({ revoked_at: now, updated_at: now })
    .where('org_id', '=', orgId)
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .returning('id')
    .execute();
  const tokens = await revokeOAuthTokens(trx, clock, { org_id: orgId, user_id: userId });
  return { grants: grants.length, tokens: tokens.count };
}

/** Per user: their membership role now (null while inactive) and the roles their groups map to. */
export async function roleInputs(trx: Transaction<Database>, orgId: string, ids: readonly string[]) {
  if (ids.length === 0) return [];
  return trx
    .selectFrom('scim_users as su')
    .leftJoin('memberships as m', (j) =>
      j.onRef('m.org_id', '=', 'su.org_id').onRef('m.user_id', '=', 'su.user_id'),
    )
    .leftJoin('scim_group_members as gm', 'gm.scim_user_id', 'su.id')
    .leftJoin('scim_groups as g', 'g.id', 'gm.group_id')
    .select(['su.id', 'su.user_id', 'm.role as current', 'g.role as mapped'])
    .where('su.org_id', '=', orgId)
    .where('su.id', 'in', ids)
    .execute();
}
