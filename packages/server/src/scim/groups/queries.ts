import { type RawBuilder, type SqlBool, sql, type Transaction } from 'kysely';
import type { Executor } from '../../db/executor.js';
import type { Database } from '../../db/schema.js';
import type { Clock } from '../../lib/clock.js';
import { type AttrTable, dateTimeAttr, stringAttr } from '../filter-sql.js';
import { ROLE_BATCH } from '../limits.js';
import type { MappableRole } from '../queries.js';
import { LATCHKEY_GROUP_SCHEMA } from '../schema.js';

/** The org's SCIM groups and their members. Every function takes the org id and filters by it. */

const GROUP_COLUMNS = [
  'g.id',
  'g.display_name',
  'g.external_id',
  'g.role',
  'g.version',
  'g.created_at',
  'g.updated_at',
] as const;

function groups(db: Executor, orgId: string) {
  return db.selectFrom('scim_groups as g').where('g.org_id', '=', orgId);
}

export type ScimGroupRow = Awaited<ReturnType<typeof getGroup>> & {};

export async function getGroup(db: Executor, orgId: string, id: string, lock = false) {
  let q = groups(db, orgId).select(GROUP_COLUMNS).where('g.id', '=', id);
  if (lock) q = q.forUpdate();
  return q.executeTakeFirst();
}

export async function listGroups(
  db: Executor,
  orgId: string,
  where: RawBuilder<SqlBool> | null,
  offset: number,
  limit: number,
) {
  const base = where ? groups(db, orgId).where(where) : groups(db, orgId);
  const total = await base.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  const rows =
    limit === 0
      ? []
      : await base
          .select(GROUP_COLUMNS)
          .orderBy('g.created_at', 'asc')
          .orderBy('g.id', 'asc')
          .offset(offset)
          .limit(limit)
          .execute();
  return { total: Number(total.n), rows };
}

/** Keyset page for the management API, with member counts. */
export async function pageGroups(
  db: Executor,
  orgId: string,
  after: { at: Date; id: string } | null,
  limit: number,
) {
  let q = groups(db, orgId).select([
    ...GROUP_COLUMNS,
    (eb) =>
      eb
        .selectFrom('scim_group_members as gm')
        .select((e) => e.fn.countAll<string>().as('n'))
        .whereRef('gm.group_id', '=', 'g.id')
        .as('members'),
  ]);
  if (after) {
    q = q.where((eb) =>
      eb.or([
        eb('g.created_at', '>', after.at),
        eb.and([eb('g.created_at', '=', after.at), eb('g.id', '>', after.id)]),
      ]),
    );
  }
  return q
    .orderBy('g.created_at', 'asc')
    .orderBy('g.id', 'asc')
    .limit(limit + 1)
    .execute();
}

export interface GroupFields {
  display_name: string;
  external_id: string | null;
  role: MappableRole | null;
}

export async function insertGroup(
  trx: Transaction<Database>,
  clock: Clock,
  g: { id: string; orgId: string } & GroupFields,
) {
  const now = clock.now();
  await trx
    .insertInto('scim_groups')
    .values({
      id: g.id,
      org_id: g.orgId,
      display_name: g.display_name,
      external_id: g.external_id,
      role: g.role,
      version: 1,
      created_at: now,
      updated_at: now,
    })
    .execute();
}

export async function touchGroup(
  trx: Transaction<Database>,
  clock: Clock,
  orgId: string,
  id: string,
  fields: Partial<GroupFields>,
) {
  await trx
    .updateTable('scim_groups')
    .set((eb) => ({ ...fields, version: eb('version', '+', 1), updated_at: clock.now() }))
    .where('org_id', '=', orgId)
    .where('id', '=', id)
    .execute();
}

export async function deleteGroup(trx: Transaction<Database>, orgId: string, id: string) {
  await trx.deleteFrom('scim_groups').where('org_id', '=', orgId).where('id', '=', id).execute();
}

export async function memberIds(db: Executor, orgId: string, groupId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('scim_group_members')
    .select('scim_user_id')
    .where('org_id', '=', orgId)
    .where('group_id', '=', groupId)
    .execute();
  return rows.map((r) => r.scim_user_id);
}

export async function countMembers(db: Executor, orgId: string, groupId: string): Promise<number> {
  const r = await db
    .selectFrom('scim_group_members')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('org_id', '=', orgId)
    .where('group_id', '=', groupId)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** The members of these groups with their userName, for the `members` attribute. */
export async function membersOfGroups(db: Executor, orgId: string, groupIds: readonly string[]) {
  if (groupIds.length === 0) return [];
  return db
    .selectFrom('scim_group_members as gm')
    .innerJoin('scim_users as su', 'su.id', 'gm.scim_user_id')
    .select(['gm.group_id', 'gm.scim_user_id', 'su.user_name'])
    .where('gm.org_id', '=', orgId)
    .where('gm.group_id', 'in', groupIds)
    .orderBy('gm.created_at')
    .orderBy('gm.scim_user_id')
    .execute();
}

function chunks<T>(list: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += ROLE_BATCH) out.push(list.slice(i, i + ROLE_BATCH));
  return out;
}

export async function addMembers(
  trx: Transaction<Database>,
  clock: Clock,
  orgId: string,
  groupId: string,
  ids: readonly string[],
) {
  const now = clock.now();
  for (const part of chunks(ids)) {
    await trx
      .insertInto('scim_group_members')
      .values(part.map((id) => ({ group_id: groupId, scim_user_id: id, org_id: orgId, created_at: now })))
      .onConflict((oc) => oc.columns(['group_id', 'scim_user_id']).doNothing())
      .execute();
  }
}

export async function removeMembers(
  trx: Transaction<Database>,
  orgId: string,
  groupId: string,
  ids: readonly string[],
) {
  for (const part of chunks(ids)) {
    await trx
      .deleteFrom('scim_group_members')
      .where('org_id', '=', orgId)
      .where('group_id', '=', groupId)
      .where('scim_user_id', 'in', part)
      .execute();
  }
}

/** Moves these users' versions on: their `groups` attribute changed. */
export async function touchUsers(
  trx: Transaction<Database>,
  clock: Clock,
  orgId: string,
  ids: readonly string[],
) {
  for (const part of chunks(ids)) {
    await trx
      .updateTable('scim_users')
      .set((eb) => ({ version: eb('version', '+', 1), updated_at: clock.now() }))
      .where('org_id', '=', orgId)
      .where('id', 'in', part)
      .execute();
  }
}

/** What a filter may name (RFC 7644 §3.4.2.2), over `scim_groups g`. */
export const GROUP_ATTRS: AttrTable = {
  id: stringAttr(sql`cast(g.id as text)`),
  externalid: stringAttr(sql`g.external_id`, true),
  displayname: stringAttr(sql`g.display_name`),
  'meta.created': dateTimeAttr(sql`g.created_at`),
  'meta.lastmodified': dateTimeAttr(sql`g.updated_at`),
  members: {
    kind: 'multi',
    source: sql`scim_group_members gm`,
    link: sql`gm.group_id = g.id`,
    subs: { value: stringAttr(sql`cast(gm.scim_user_id as text)`) },
  },
  [`${LATCHKEY_GROUP_SCHEMA.toLowerCase()}:role`]: stringAttr(sql`g.role`),
};
