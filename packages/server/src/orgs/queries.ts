import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Role } from '../db/schema/orgs.js';
import type { Cursor } from '../http/pagination.js';
import type { Clock } from '../lib/clock.js';
import { newId } from '../lib/secrets.js';
import { isValidSlug, slugify, suffixed } from './slug.js';
import type { Executor } from '../db/executor.js';
import { builtOnce } from '../db/built-once.js';

export interface OrgRow {
  id: string;
  slug: string;
  name: string;
  created_at: Date;
}

export async function slugTaken(db: Executor, slug: string): Promise<boolean> {
  return (await db.selectFrom('orgs').select('id').where('slug', '=', slug).executeTakeFirst()) !== undefined;
}

/** Picks a free slug for a name: the plain slug if free, else with a random suffix. */
export async function freeSlug(db: Executor, name: string): Promise<string> {
  const base = slugify(name);
  if (isValidSlug(base) && !(await slugTaken(db, base))) return base;
  for (;;) {
    const s = suffixed(base);
    if (!(await slugTaken(db, s))) return s;
  }
}

/** Creates an org with `ownerId` as its owner. The caller checks the slug is free (unique index backs it). */
export async function insertOrg(
  db: Executor,
  clock: Clock,
  o: { name: string; slug: string; ownerId: string },
): Promise<OrgRow> {
  const now = clock.now();
  const org = { id: newId(), slug: o.slug, name: o.name, created_at: now, updated_at: now };
  await db.insertInto('orgs').values(org).execute();
  await db
    .insertInto('memberships')
    .values({ org_id: org.id, user_id: o.ownerId, role: 'owner', created_at: now })
    .execute();
  return org;
}

/**
 * A person's orgs as every reader lists them: oldest membership first, at most 500. The same rule
 * computes the kept list the personal-token lookup reads (`membership_list_refresh`, migration
 * `2026-12-07T0600-membership-lists`): a change to one is a change to the other, in a new
 * migration (`test/orgs/membership-lists.test.ts` holds them equal).
 */
export function orgsOfUser(db: Kysely<Database>, userId: string) {
  return db
    .selectFrom('memberships')
    .innerJoin('orgs', 'orgs.id', 'memberships.org_id')
    .select(['orgs.id', 'orgs.slug', 'orgs.name', 'memberships.role', 'memberships.created_at'])
    .where('memberships.user_id', '=', userId)
    .orderBy('memberships.created_at', 'asc')
    .orderBy('orgs.id', 'asc')
    .limit(500);
}

const userOrgs = builtOnce((db, p: { userId: string }) => orgsOfUser(db, p.userId));

export function listUserOrgs(db: Executor, userId: string) {
  return userOrgs.rows(db, { userId });
}

export async function getMembership(db: Executor, orgId: string, userId: string) {
  return db
    .selectFrom('memberships')
    .select(['role', 'created_at'])
    .where('org_id', '=', orgId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
}

/**
 * Locks the org's owner memberships (so two concurrent demotions or transfers cannot both pass)
 * and returns the owners' user ids. Under READ COMMITTED a row that stopped being an owner while
 * this waited for its lock is left out; one that became an owner meanwhile is not seen, which
 * only ever errs towards refusing.
 */
export async function lockOwners(trx: Transaction<Database>, orgId: string): Promise<string[]> {
  const rows = await trx
    .selectFrom('memberships')
    .select('user_id')
    .where('org_id', '=', orgId)
    .where('role', '=', 'owner')
    .forUpdate()
    .execute();
  return rows.map((r) => r.user_id);
}

export async function setRole(db: Executor, orgId: string, userId: string, role: Role) {
  await db
    .updateTable('memberships')
    .set({ role })
    .where('org_id', '=', orgId)
    .where('user_id', '=', userId)
    .execute();
}

/** The org's creation time. */
export async function orgCreatedAt(db: Executor, orgId: string) {
  return db.selectFrom('orgs').select('created_at').where('id', '=', orgId).executeTakeFirstOrThrow();
}

/** Locks the org's row for an update; undefined when it is gone. */
export async function lockOrg(trx: Transaction<Database>, orgId: string) {
  return trx
    .selectFrom('orgs')
    .select(['id', 'slug', 'name', 'created_at'])
    .where('id', '=', orgId)
    .forUpdate()
    .executeTakeFirst();
}

/** Sets the name and the slug that are given (a missing or empty one stays as it is). */
export async function updateOrg(
  db: Executor,
  orgId: string,
  change: { name: string | undefined; slug: string | undefined },
  now: Date,
) {
  return db
    .updateTable('orgs')
    .set({
      ...(change.name ? { name: change.name } : {}),
      ...(change.slug ? { slug: change.slug } : {}),
      updated_at: now,
    })
    .where('id', '=', orgId)
    .returning(['id', 'slug', 'name', 'created_at'])
    .executeTakeFirstOrThrow();
}

/** Deletes the org; its slug and name, or undefined when it was already gone. */
export async function deleteOrg(db: Executor, orgId: string) {
  return db.deleteFrom('orgs').where('id', '=', orgId).returning(['slug', 'name']).executeTakeFirst();
}

/** Renames an account (the name it shows in every org). */
export async function renameUser(db: Executor, userId: string, name: string, now: Date): Promise<void> {
  await db.updateTable('users').set({ name, updated_at: now }).where('id', '=', userId).execute();
}

/** One page of the org's members, oldest first: up to `limit + 1` rows after the cursor. */
export async function membersOf(db: Executor, orgId: string, page: { limit: number; after: Cursor | null }) {
  const { limit, after } = page;
  let q = db
    .selectFrom('memberships')
    .innerJoin('users', 'users.id', 'memberships.user_id')
    .select(['users.id', 'users.email', 'users.name', 'memberships.role', 'memberships.created_at'])
    .where('memberships.org_id', '=', orgId);
  if (after) {
    q = q.where((eb) =>
      eb.or([
        eb('memberships.created_at', '>', after.at),
        eb.and([eb('memberships.created_at', '=', after.at), eb('users.id', '>', after.id)]),
      ]),
    );
  }
  return q
    .orderBy('memberships.created_at', 'asc')
    .orderBy('users.id', 'asc')
    .limit(limit + 1)
    .execute();
}

/** Removes a member from the org. */
export async function deleteMembership(db: Executor, orgId: string, userId: string): Promise<void> {
  await db.deleteFrom('memberships').where('org_id', '=', orgId).where('user_id', '=', userId).execute();
}

/** The member of the org who signs in with this address, if any. */
export async function memberByEmail(db: Executor, orgId: string, email: string) {
  return db
    .selectFrom('memberships')
    .innerJoin('users', 'users.id', 'memberships.user_id')
    .select('users.id')
    .where('memberships.org_id', '=', orgId)
    .where('users.email', '=', email)
    .executeTakeFirst();
}

/** The role an invitation of the org offers, if it exists. */
export async function invitationRole(db: Executor, orgId: string, id: string) {
  return db
    .selectFrom('invitations')
    .select('role')
    .where('id', '=', id)
    .where('org_id', '=', orgId)
    .executeTakeFirst();
}
