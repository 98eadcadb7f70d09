import type { Insertable, Transaction, Updateable } from 'kysely';
import type { Db } from '../db/connection.js';
import type { Database, SsoConnectionsTable } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { newId } from '../lib/secrets.js';

type Executor = Db | Transaction<Database>;

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
    .select(['sso_enforced', 'status_page_url'])
    .where('org_id', '=', orgId)
    .executeTakeFirst();
  return row ?? { sso_enforced: true, status_page_url: null };
}

export async function saveSettings(
  db: Executor,
  clock: Clock,
  orgId: string,
  s: { sso_enforced: boolean; status_page_url: string | null },
) {
  await db
    .insertInto('sso_settings')
    .values({ org_id: orgId, ...s, updated_at: clock.now() })
    .onConflict((oc) => oc.column('org_id').doUpdateSet({ ...s, updated_at: clock.now() }))
    .execute();
}

export async function listDomains(db: Executor, orgId: string) {
  return db
    .selectFrom('sso_domains')
    .select(['id', 'domain', 'verified_at', 'verified_by', 'created_at'])
    .where('org_id', '=', orgId)
    .orderBy('domain')
    .execute();
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

export async function isVerifiedDomainOf(db: Executor, orgId: string, domain: string) {
  const row = await db
    .selectFrom('sso_domains')
    .select('id')
    .where('org_id', '=', orgId)
    .where('domain', '=', domain)
    .where('verified_at', 'is not', null)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * The first org among the user's memberships that enforces SSO: `sso_enforced` (true unless set
 * false) and at least one enabled connection. One query; null when none does.
 */
export async function enforcingOrgOf(db: Executor, userId: string) {
  return db
    .selectFrom('memberships')
    .innerJoin('orgs', 'orgs.id', 'memberships.org_id')
    .leftJoin('sso_settings', 'sso_settings.org_id', 'memberships.org_id')
    .select(['orgs.id', 'orgs.slug', 'orgs.name'])
    .where('memberships.user_id', '=', userId)
    .where((eb) =>
      eb.or([eb('sso_settings.sso_enforced', 'is', null), eb('sso_settings.sso_enforced', '=', true)]),
    )
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('sso_connections')
          .select('sso_connections.id')
          .whereRef('sso_connections.org_id', '=', 'memberships.org_id')
          .where('sso_connections.enabled', '=', true),
      ),
    )
    .orderBy('memberships.created_at')
    .executeTakeFirst();
}
