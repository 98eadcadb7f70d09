import type { RawBuilder, SqlBool, Transaction } from 'kysely';
import type { Db } from '../db/connection.js';
import type { Database, Role } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';

/** SCIM storage. Every function takes the org id and filters by it: no query reaches another org's rows. */

type Executor = Db | Transaction<Database>;
export type MappableRole = Exclude<Role, 'owner'>;
export interface StoredEmail {
  value: string;
  type?: string;
  primary?: boolean;
}

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

// ---- users -------------------------------------------------------------------------------------

const USER_COLUMNS = [
  'su.id',
  'su.user_id',
  'su.external_id',
  'su.given_name',
  'su.family_name',
  'su.formatted_name',
  'su.display_name',
  'su.emails',
  'su.version',
  'su.created_at',
  'su.updated_at',
  'su.user_name',
  'su.invitation_id',
  'm.role',
] as const;

/**
 * `scim_users su` with, when the person is active, their membership (`m`). The account row is
 * never joined: what SCIM shows of a person is the org's own record and the membership.
 */
function users(db: Executor, orgId: string) {
  return db
    .selectFrom('scim_users as su')
    .leftJoin('memberships as m', (j) =>
      j.onRef('m.org_id', '=', 'su.org_id').onRef('m.user_id', '=', 'su.user_id'),
    )
    .where('su.org_id', '=', orgId);
}

export type ScimUserRow = Awaited<ReturnType<typeof getUser>> & {};

export async function getUser(db: Executor, orgId: string, id: string, lock = false) {
  let q = users(db, orgId).select(USER_COLUMNS).where('su.id', '=', id);
  if (lock) q = q.forUpdate(['su']);
  return q.executeTakeFirst();
}

export async function getUserByAccount(db: Executor, orgId: string, userId: string) {
  return users(db, orgId).select(['su.id']).where('su.user_id', '=', userId).executeTakeFirst();
}

export async function getUserByName(db: Executor, orgId: string, userName: string) {
  return users(db, orgId).select(['su.id']).where('su.user_name', '=', userName).executeTakeFirst();
}

export async function listUsers(
  db: Executor,
  orgId: string,
  where: RawBuilder<SqlBool> | null,
  offset: number,
  limit: number,
) {
  const base = where ? users(db, orgId).where(where) : users(db, orgId);
  const total = await base.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  const rows =
    limit === 0
      ? []
      : await base
          .select(USER_COLUMNS)
          .orderBy('su.created_at', 'asc')
          .orderBy('su.id', 'asc')
          .offset(offset)
          .limit(limit)
          .execute();
  return { total: Number(total.n), rows };
}

export interface UserFields {
  external_id: string | null;
  given_name: string | null;
  family_name: string | null;
  formatted_name: string | null;
  display_name: string | null;
  emails: StoredEmail[];
}

/** What a record stands for: its userName, and the account it is linked to or the invitation it waits on. */
export interface UserLink {
  userName: string;
  userId: string | null;
  invitationId: string | null;
}

/** Moves a record to another userName, account or invitation (the version moves with the next touch). */
export async function setLink(trx: Transaction<Database>, orgId: string, id: string, link: UserLink) {
  await trx
    .updateTable('scim_users')
    .set({ user_name: link.userName, user_id: link.userId, invitation_id: link.invitationId })
    .where('org_id', '=', orgId)
    .where('id', '=', id)
    .execute();
}

export async function insertUser(
  trx: Transaction<Database>,
  clock: Clock,
  r: { id: string; orgId: string; link: UserLink } & UserFields,
) {
  const now = clock.now();
  await trx
    .insertInto('scim_users')
    .values({
      id: r.id,
      org_id: r.orgId,
      user_id: r.link.userId,
      user_name: r.link.userName,
      invitation_id: r.link.invitationId,
      external_id: r.external_id,
      given_name: r.given_name,
      family_name: r.family_name,
      formatted_name: r.formatted_name,
      display_name: r.display_name,
      emails: JSON.stringify(r.emails),
      version: 1,
      created_at: now,
      updated_at: now,
    })
    .execute();
}

/** Writes the fields and moves the version on (also when only the membership changed). */
export async function touchUser(
  trx: Transaction<Database>,
  clock: Clock,
  orgId: string,
  id: string,
  fields: UserFields | null,
) {
  await trx
    .updateTable('scim_users')
    .set((eb) => ({
      ...(fields ? { ...fields, emails: JSON.stringify(fields.emails) } : {}),
      version: eb('version', '+', 1),
      updated_at: clock.now(),
    }))
    .where('org_id', '=', orgId)
    .where('id', '=', id)
    .execute();
}

export async function deleteUser(trx: Transaction<Database>, clock: Clock, orgId: string, id: string) {
  // The groups that lose this member change too.
  await trx
    .updateTable('scim_groups')
    .set((eb) => ({ version: eb('version', '+', 1), updated_at: clock.now() }))
    .where('org_id', '=', orgId)
    .where('id', 'in', (eb) =>
      eb.selectFrom('scim_group_members').select('group_id').where('scim_user_id', '=', id),
    )
    .execute();
  await trx.deleteFrom('scim_users').where('org_id', '=', orgId).where('id', '=', id).execute();
}

/** The groups of these users, for their `groups` attribute. */
export async function groupsOfUsers(db: Executor, orgId: string, ids: readonly string[]) {
  if (ids.length === 0) return [];
  return db
    .selectFrom('scim_group_members as gm')
    .innerJoin('scim_groups as g', 'g.id', 'gm.group_id')
    .select(['gm.scim_user_id', 'g.id', 'g.display_name'])
    .where('gm.org_id', '=', orgId)
    .where('gm.scim_user_id', 'in', ids)
    .orderBy('g.display_name')
    .execute();
}

/** Which of these ids are users of this org. */
export async function existingUserIds(
  db: Executor,
  orgId: string,
  ids: readonly string[],
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db
    .selectFrom('scim_users')
    .select('id')
    .where('org_id', '=', orgId)
    .where('id', 'in', ids)
    .execute();
  return new Set(rows.map((r) => r.id));
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
  const tokens = await trx
    .updateTable('oauth_tokens')
    .set({ revoked_at: now })
    .where('org_id', '=', orgId)
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .returning('id')
    .execute();
  return { grants: grants.length, tokens: tokens.length };
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
