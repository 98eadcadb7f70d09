import { type RawBuilder, type SqlBool, sql, type Transaction } from 'kysely';
import type { Executor } from '../../db/executor.js';
import type { Database } from '../../db/schema.js';
import type { Clock } from '../../lib/clock.js';
import { type AttrTable, booleanAttr, dateTimeAttr, stringAttr } from '../filter-sql.js';
import { LATCHKEY_USER_SCHEMA } from '../schema.js';

/**
 * The org's SCIM users (`scim_users`). Every function takes the org id and filters by it: no
 * query reaches another org's rows.
 */

export interface StoredEmail {
  value: string;
  type?: string;
  primary?: boolean;
}

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

/** What a filter may name (RFC 7644 §3.4.2.2), over `scim_users su` and (left joined) `memberships m`. */
export const USER_ATTRS: AttrTable = {
  id: stringAttr(sql`cast(su.id as text)`),
  externalid: stringAttr(sql`su.external_id`, true),
  username: stringAttr(sql`su.user_name`),
  'name.givenname': stringAttr(sql`su.given_name`),
  'name.familyname': stringAttr(sql`su.family_name`),
  'name.formatted': stringAttr(sql`su.formatted_name`),
  displayname: stringAttr(sql`su.display_name`),
  active: booleanAttr(sql`(m.user_id is not null)`),
  'meta.created': dateTimeAttr(sql`su.created_at`),
  'meta.lastmodified': dateTimeAttr(sql`su.updated_at`),
  emails: {
    kind: 'multi',
    source: sql`jsonb_array_elements(su.emails) as e(v)`,
    link: null,
    subs: { value: stringAttr(sql`(e.v ->> 'value')`), type: stringAttr(sql`(e.v ->> 'type')`) },
  },
  [`${LATCHKEY_USER_SCHEMA.toLowerCase()}:role`]: stringAttr(sql`m.role`),
};
