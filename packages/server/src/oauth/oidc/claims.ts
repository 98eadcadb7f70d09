import type { Executor } from '../../db/executor.js';

/**
 * The claims OpenID Connect scopes release about a person (Core §5.4), plus Latchkey's org claim
 * set for the org they chose on consent. `sub` is the account id: stable for the account's life,
 * the same for every client (public subjects; pairwise ones are not offered).
 */
export interface PersonClaims {
  sub: string;
  name?: string;
  email?: string;
  email_verified?: boolean;
  org_id?: string;
  org_slug?: string;
  roles?: string[];
}

/** Org claims are released with `openid`; `profile` adds `name`; `email` adds `email` and `email_verified`. */
export async function personClaims(
  db: Executor,
  o: { userId: string; orgId: string; scopes: readonly string[] },
): Promise<PersonClaims | null> {
  const row = await db
    .selectFrom('users as u')
    .leftJoin('memberships as m', (j) => j.onRef('m.user_id', '=', 'u.id').on('m.org_id', '=', o.orgId))
    .leftJoin('orgs as g', 'g.id', 'm.org_id')
    .select(['u.id', 'u.name', 'u.email', 'u.email_verified_at', 'm.role', 'g.id as org_id', 'g.slug'])
    .where('u.id', '=', o.userId)
    .executeTakeFirst();
  if (!row) return null;
  const claims: PersonClaims = { sub: row.id };
  if (o.scopes.includes('profile')) claims.name = row.name;
  if (o.scopes.includes('email')) {
    claims.email = row.email;
    claims.email_verified = row.email_verified_at !== null;
  }
  if (row.org_id && row.role) {
    claims.org_id = row.org_id;
    claims.org_slug = row.slug!;
    claims.roles = [row.role];
  }
  return claims;
}

/** Every claim Latchkey may release, for discovery's `claims_supported`. */
export const CLAIMS_SUPPORTED = [
  'sub',
  'iss',
  'aud',
  'exp',
  'iat',
  'auth_time',
  'nonce',
  'amr',
  'sid',
  'azp',
  'at_hash',
  'name',
  'email',
  'email_verified',
  'org_id',
  'org_slug',
  'roles',
] as const;
