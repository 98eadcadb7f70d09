import { type Insertable, type Updateable } from 'kysely';
import type { SsoConnectionsTable } from '../db/schema/sso.js';
import type { Clock } from '../lib/clock.js';
import { newId } from '../lib/secrets.js';
import type { Executor } from '../db/executor.js';

export type ConnectionRow = Awaited<ReturnType<typeof getConnection>> & {};

const CONNECTION_COLUMNS = [
  'id',
  'org_id',
  'kind',
  'name',
  'enabled',
  'default_role',
  'oidc_issuer',
  'oidc_client_id',
  'oidc_client_secret',
  'saml_metadata_xml',
  'saml_metadata_url',
  'saml_idp_entity_id',
  'saml_idp_sso_url',
  'saml_idp_certs',
  'tested_at',
  'test_result',
  'test_detail',
  'created_at',
  'updated_at',
] as const;

/** A connection by id, in any org (the browser endpoints), or only in `orgId` when given. */
export async function getConnection(db: Executor, id: string, orgId?: string) {
  let q = db.selectFrom('sso_connections').select(CONNECTION_COLUMNS).where('id', '=', id);
  if (orgId) q = q.where('org_id', '=', orgId);
  return q.executeTakeFirst();
}

export async function listConnections(db: Executor, orgId: string) {
  return db
    .selectFrom('sso_connections')
    .select(CONNECTION_COLUMNS)
    .where('org_id', '=', orgId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/** The connection an org's sign-ins go to: its oldest enabled one. */
export async function activeConnection(db: Executor, orgId: string) {
  return db
    .selectFrom('sso_connections')
    .select(CONNECTION_COLUMNS)
    .where('org_id', '=', orgId)
    .where('enabled', '=', true)
    .orderBy('created_at')
    .orderBy('id')
    .executeTakeFirst();
}

/** How many SSO connections the org has. */
export async function countConnections(db: Executor, orgId: string) {
  return db
    .selectFrom('sso_connections')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('org_id', '=', orgId)
    .executeTakeFirstOrThrow();
}

export async function insertConnection(
  db: Executor,
  clock: Clock,
  c: Omit<Insertable<SsoConnectionsTable>, 'id' | 'created_at' | 'updated_at' | 'enabled'>,
) {
  const now = clock.now();
  const id = newId();
  await db
    .insertInto('sso_connections')
    .values({ ...c, id, enabled: false, created_at: now, updated_at: now })
    .execute();
  return id;
}

export async function updateConnection(
  db: Executor,
  clock: Clock,
  id: string,
  orgId: string,
  set: Updateable<SsoConnectionsTable>,
) {
  await db
    .updateTable('sso_connections')
    .set({ ...set, updated_at: clock.now() })
    .where('id', '=', id)
    .where('org_id', '=', orgId)
    .execute();
}

export async function deleteConnection(db: Executor, id: string, orgId: string) {
  const r = await db
    .deleteFrom('sso_connections')
    .where('id', '=', id)
    .where('org_id', '=', orgId)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function getSettings(db: Executor, orgId: string) {
  const row = await db
    .selectFrom('sso_settings')
    .select(['sso_enforced', 'status_page_url', 'jit_provisioning'])
    .where('org_id', '=', orgId)
    .executeTakeFirst();
  return row ?? { sso_enforced: true, status_page_url: null, jit_provisioning: true };
}

export async function saveSettings(
  db: Executor,
  clock: Clock,
  orgId: string,
  s: { sso_enforced: boolean; status_page_url: string | null; jit_provisioning: boolean },
) {
  await db
    .insertInto('sso_settings')
    .values({ org_id: orgId, ...s, updated_at: clock.now() })
    .onConflict((oc) => oc.column('org_id').doUpdateSet({ ...s, updated_at: clock.now() }))
    .execute();
}

const DOMAIN_COLUMNS = [
  'id',
  'domain',
  'verified_at',
  'verified_by',
  'created_at',
  'challenge_token',
  'last_checked_at',
  'record_seen_at',
] as const;

export async function listDomains(db: Executor, orgId: string) {
  return db
    .selectFrom('sso_domains')
    .select(DOMAIN_COLUMNS)
    .where('org_id', '=', orgId)
    .orderBy('domain')
    .execute();
}

/** Adds a domain to the org, unverified, with the token its DNS challenge must show. */
export async function insertDomain(
  db: Executor,
  d: { orgId: string; domain: string; challengeToken: string },
  now: Date,
): Promise<void> {
  await db
    .insertInto('sso_domains')
    .values({
      id: newId(),
      org_id: d.orgId,
      domain: d.domain,
      created_at: now,
      challenge_token: d.challengeToken,
    })
    .execute();
}

/** Removes a domain from the org; `numDeletedRows` says whether it was there. */
export async function deleteDomain(db: Executor, orgId: string, domain: string) {
  return db
    .deleteFrom('sso_domains')
    .where('org_id', '=', orgId)
    .where('domain', '=', domain)
    .executeTakeFirst();
}

/** One of the org's domains (verified or not). */
export async function getDomain(db: Executor, orgId: string, domain: string) {
  return db
    .selectFrom('sso_domains')
    .select(DOMAIN_COLUMNS)
    .where('org_id', '=', orgId)
    .where('domain', '=', domain)
    .executeTakeFirst();
}

/**
 * Marks the org's unverified domain verified, its record seen now. Null when it is not there or
 * already verified; a unique violation (`sso_domains_verified_key`) when another org verified it.
 */
export async function markDomainVerified(
  db: Executor,
  p: { orgId: string; domain: string; by: string; now: Date },
) {
  return db
    .updateTable('sso_domains')
    .set({ verified_at: p.now, verified_by: p.by, last_checked_at: p.now, record_seen_at: p.now })
    .where('org_id', '=', p.orgId)
    .where('domain', '=', p.domain)
    .where('verified_at', 'is', null)
    .returning(DOMAIN_COLUMNS)
    .executeTakeFirst();
}

/** Verified domains (any org) last checked before `before`, or never re-checked, with their org. */
export async function dueForRecheck(db: Executor, before: Date) {
  const rows = await db
    .selectFrom('sso_domains')
    .innerJoin('orgs', 'orgs.id', 'sso_domains.org_id')
    .select([
      'sso_domains.id',
      'sso_domains.org_id',
      'orgs.name as org_name',
      'sso_domains.domain',
      'sso_domains.challenge_token',
      'sso_domains.verified_at',
      'sso_domains.record_seen_at',
    ])
    .where('sso_domains.verified_at', 'is not', null)
    .where((eb) =>
      eb.or([eb('sso_domains.last_checked_at', 'is', null), eb('sso_domains.last_checked_at', '<', before)]),
    )
    .orderBy('sso_domains.last_checked_at')
    .execute();
  return rows.map((r) => ({ ...r, verified_at: r.verified_at as Date }));
}

/** Records a re-check of a verified domain; `seen` when the record held the token. */
export async function markChecked(db: Executor, id: string, now: Date, seen: boolean) {
  await db
    .updateTable('sso_domains')
    .set(seen ? { last_checked_at: now, record_seen_at: now } : { last_checked_at: now })
    .where('id', '=', id)
    .where('verified_at', 'is not', null)
    .execute();
}

/** Drops a domain's verified state, unless it changed since it was read (verified again). */
export async function unverifyDomain(db: Executor, id: string, verifiedAt: Date, now: Date) {
  const r = await db
    .updateTable('sso_domains')
    .set({ verified_at: null, verified_by: null, last_checked_at: now })
    .where('id', '=', id)
    .where('verified_at', '=', verifiedAt)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** The email addresses of an org's owners. */
export async function orgOwnersEmails(db: Executor, orgId: string) {
  const rows = await db
    .selectFrom('memberships')
    .innerJoin('users', 'users.id', 'memberships.user_id')
    .select('users.email')
    .where('memberships.org_id', '=', orgId)
    .where('memberships.role', '=', 'owner')
    .orderBy('users.email')
    .execute();
  return rows.map((r) => r.email);
}

export async function orgBySlugOrId(db: Executor, by: { slug: string } | { id: string }) {
  const q = db.selectFrom('orgs').select(['id', 'slug', 'name']);
  return ('slug' in by ? q.where('slug', '=', by.slug) : q.where('id', '=', by.id)).executeTakeFirst();
}

/** The org that verified `domain`, if any: only verified domains route sign-ins. */
export async function orgOfVerifiedDomain(db: Executor, domain: string) {
  return db
    .selectFrom('sso_domains')
    .innerJoin('orgs', 'orgs.id', 'sso_domains.org_id')
    .select(['orgs.id', 'orgs.slug', 'orgs.name'])
    .where('sso_domains.domain', '=', domain)
    .where('sso_domains.verified_at', 'is not', null)
    .executeTakeFirst();
}
