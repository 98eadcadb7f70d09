import { sql } from 'kysely';
import type { Executor } from '../db/executor.js';

// What an org's SSO means for its members, asked by sign-in, invitations and SCIM: which domains
// the org proved it owns, and which org enforces SSO over a member.

/** Whether `orgId` has verified `domain` (DNS proof). */
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
 * The first org among the user's memberships that enforces SSO over them: `sso_enforced` (true
 * unless set false), at least one enabled connection, and the user's email at a domain that org
 * has verified — an org binds only the addresses it proved it owns, so no org can lock out a
 * member whose address is elsewhere. One query; undefined when none does. `orgId` narrows the
 * question to that one membership.
 */
export async function enforcingOrgOf(db: Executor, userId: string, orgId?: string) {
  let q = db
    .selectFrom('memberships')
    .innerJoin('orgs', 'orgs.id', 'memberships.org_id')
    .innerJoin('users', 'users.id', 'memberships.user_id')
    .leftJoin('sso_settings', 'sso_settings.org_id', 'memberships.org_id')
    .select(['orgs.id', 'orgs.slug', 'orgs.name'])
    .where('memberships.user_id', '=', userId);
  if (orgId) q = q.where('memberships.org_id', '=', orgId);
  return q
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('sso_domains')
          .select('sso_domains.id')
          .whereRef('sso_domains.org_id', '=', 'memberships.org_id')
          .where('sso_domains.verified_at', 'is not', null)
          .where(
            sql<string>`'@' || sso_domains.domain`,
            '=',
            sql<string>`right(users.email, length(sso_domains.domain) + 1)`,
          ),
      ),
    )
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
