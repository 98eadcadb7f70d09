import type { Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Role } from '../db/schema/orgs.js';
import type { Clock } from '../lib/clock.js';
import { newId } from '../lib/secrets.js';
import { isValidSlug, slugify, suffixed } from './slug.js';
import type { Executor } from '../db/executor.js';

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

export async function listUserOrgs(db: Executor, userId: string) {
  return db
    .selectFrom('memberships')
    .innerJoin('orgs', 'orgs.id', 'memberships.org_id')
    .select(['orgs.id', 'orgs.slug', 'orgs.name', 'memberships.role', 'memberships.created_at'])
    .where('memberships.user_id', '=', userId)
    .orderBy('memberships.created_at', 'asc')
    .orderBy('orgs.id', 'asc')
    .limit(500)
    .execute();
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
