import type { Transaction } from 'kysely';
import { type Actor } from '../../auth/principal.js';
import { audit } from '../../audit/log.js';
import type { Database } from '../../db/schema.js';
import { type Clock } from '../../lib/clock.js';
import { newId } from '../../lib/secrets.js';
import { revokeGrantTokens, scopesOf } from './tokens.js';
import type { Executor } from '../../db/executor.js';

/** A live grant in one of `orgs` that already covers every requested scope, when exactly one does. */
export async function rememberedGrant(
  db: Executor,
  a: {
    userId: string;
    clientId: string;
    resource: string;
    scopes: readonly string[];
    orgIds: readonly string[];
  },
): Promise<{ id: string; orgId: string } | null> {
  if (a.orgIds.length === 0) return null;
  const rows = await db
    .selectFrom('oauth_grants')
    .select(['id', 'org_id', 'scopes'])
    .where('user_id', '=', a.userId)
    .where('client_id', '=', a.clientId)
    .where('resource', '=', a.resource)
    .where('org_id', 'in', a.orgIds)
    .where('revoked_at', 'is', null)
    .execute();
  const covering = rows.filter((r) => {
    const held = scopesOf(r.scopes);
    return a.scopes.every((s) => held.includes(s));
  });
  return covering.length === 1 ? { id: covering[0]!.id, orgId: covering[0]!.org_id } : null;
}

/**
 * Records consent: the live grant for (person, client, org, resource) gains `scopes` (created
 * when there is none). Returns the grant id. Audited as `oauth.consent_given` (with
 * `admin_approved` when the org's approval of the client stood in for the consent screen).
 */
export async function recordConsent(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  c: {
    userId: string;
    orgId: string;
    clientId: string;
    resource: string;
    scopes: readonly string[];
    /** Given by the org's approval of the client rather than on the consent screen. */
    adminApproved?: boolean;
  },
): Promise<string> {
  const now = clock.now();
  const existing = await trx
    .selectFrom('oauth_grants')
    .select(['id', 'scopes'])
    .where('user_id', '=', c.userId)
    .where('client_id', '=', c.clientId)
    .where('org_id', '=', c.orgId)
    .where('resource', '=', c.resource)
    .where('revoked_at', 'is', null)
    .forUpdate()
    .executeTakeFirst();
  let id: string;
  if (existing) {
    id = existing.id;
    const scopes = [...new Set([...scopesOf(existing.scopes), ...c.scopes])];
    await trx
      .updateTable('oauth_grants')
      .set({ scopes: JSON.stringify(scopes), updated_at: now })
      .where('id', '=', id)
      .execute();
  } else {
    id = newId();
    await trx
      .insertInto('oauth_grants')
      .values({
        id,
        user_id: c.userId,
        org_id: c.orgId,
        client_id: c.clientId,
        resource: c.resource,
        scopes: JSON.stringify(c.scopes),
        created_at: now,
        updated_at: now,
      })
      .execute();
  }
  await audit(trx, clock, who, {
    orgId: c.orgId,
    action: 'oauth.consent_given',
    target: `client:${c.clientId}`,
    data: {
      client_id: c.clientId,
      user_id: c.userId,
      resource: c.resource,
      scopes: c.scopes,
      grant_id: id,
      ...(c.adminApproved ? { admin_approved: true } : {}),
    },
  });
  return id;
}

/** Withdraws a grant and revokes every token issued under it. Returns the revoked token hashes, or null if no live grant. */
export async function revokeGrant(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  g: { id: string; orgId: string; clientId: string; userId: string },
): Promise<string[] | null> {
  const done = await trx
    .updateTable('oauth_grants')
    .set({ revoked_at: clock.now() })
    .where('id', '=', g.id)
    .where('revoked_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  if (!done) return null;
  const revoked = await revokeGrantTokens(trx, clock, g.id);
  await trx
    .updateTable('oauth_device_codes')
    .set({ status: 'denied' })
    .where('grant_id', '=', g.id)
    .where('status', '=', 'approved')
    .execute();
  await audit(trx, clock, who, {
    orgId: g.orgId,
    action: 'oauth.grant_revoked',
    target: `client:${g.clientId}`,
    data: { grant_id: g.id, client_id: g.clientId, user_id: g.userId, revoked: revoked.prefixes },
  });
  return revoked.hashes;
}

/** Live (unrevoked) grants with their client's and org's names. */
function liveGrantsQuery(db: Executor) {
  return db
    .selectFrom('oauth_grants as g')
    .innerJoin('oauth_clients as c', 'c.id', 'g.client_id')
    .innerJoin('orgs as o', 'o.id', 'g.org_id')
    .select([
      'g.id',
      'g.client_id',
      'c.name as client_name',
      'g.org_id',
      'o.name as org_name',
      'g.user_id',
      'g.resource',
      'g.scopes',
      'g.created_at',
      'g.updated_at',
    ])
    .where('g.revoked_at', 'is', null);
}

/** A live grant as the grant lists show it. */
export type LiveGrantRow = Awaited<ReturnType<ReturnType<typeof liveGrantsQuery>['execute']>>[number];

/** The person's live grants in every org, newest first, at most `limit`. */
export async function grantsOfUser(db: Executor, userId: string, limit: number): Promise<LiveGrantRow[]> {
  return liveGrantsQuery(db)
    .where('g.user_id', '=', userId)
    .orderBy('g.created_at', 'desc')
    .limit(limit)
    .execute();
}

/** Every live grant of the person, in every org. */
export async function everyGrantOfUser(db: Executor, userId: string): Promise<LiveGrantRow[]> {
  return liveGrantsQuery(db).where('g.user_id', '=', userId).execute();
}

/** One of the person's live grants. */
export async function grantOfUser(
  db: Executor,
  userId: string,
  id: string,
): Promise<LiveGrantRow | undefined> {
  return liveGrantsQuery(db).where('g.id', '=', id).where('g.user_id', '=', userId).executeTakeFirst();
}

/** The org's live grants, newest first, at most `limit`. */
export async function grantsOfOrg(db: Executor, orgId: string, limit: number): Promise<LiveGrantRow[]> {
  return liveGrantsQuery(db)
    .where('g.org_id', '=', orgId)
    .orderBy('g.created_at', 'desc')
    .limit(limit)
    .execute();
}

/** One of the org's live grants. */
export async function grantOfOrg(db: Executor, orgId: string, id: string): Promise<LiveGrantRow | undefined> {
  return liveGrantsQuery(db).where('g.id', '=', id).where('g.org_id', '=', orgId).executeTakeFirst();
}
