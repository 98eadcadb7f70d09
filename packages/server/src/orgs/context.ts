import type { OrgContext, Principal } from '../auth/principal.js';
import { requireScope } from '../auth/requirements.js';
import type { Deps } from '../deps.js';
import { ApiError } from '../errors.js';
import { UUID_RE } from '../lib/secrets.js';
import { listUserOrgs } from './queries.js';
import { type Permission } from '../auth/permissions.js';
import { ROLE_PERMISSIONS, roleAllows } from './roles.js';

/** The org a request acts in, and what the caller's role there allows. */

const ORG_FORBIDDEN = 'You cannot act in this organisation.';

/**
 * Memberships read in the same statement as a request's credential (a personal token looked up in
 * the database): that request uses them instead of reading them again. Keyed by the request, so
 * they live as long as it does and no other request ever sees them.
 */
const readWithCredential = new WeakMap<object, { userId: string; orgs: OrgContext[] }>();

/** Keeps the memberships `userId`'s credential was read with, for the rest of `req`. */
export function membershipsReadWith(req: object, userId: string, orgs: OrgContext[]): void {
  readWithCredential.set(req, { userId, orgs });
}

/**
 * A person's orgs and roles: as read with the request's credential, else from the node's cache,
 * else the database.
 */
export async function membershipsOf(deps: Deps, userId: string, req?: object): Promise<OrgContext[]> {
  const read = req ? readWithCredential.get(req) : undefined;
  if (read?.userId === userId) return read.orgs;
  const cached = deps.auth.memberships(userId);
  if (cached) return cached;
  const generation = deps.auth.generation();
  const rows = await listUserOrgs(deps.db, userId);
  const orgs = rows.map((r) => ({ id: r.id, slug: r.slug, name: r.name, role: r.role }));
  deps.auth.putMemberships(userId, orgs, generation);
  return orgs;
}

const matches = (org: OrgContext, ref: string) => org.id === ref.toLowerCase() || org.slug === ref;

/**
 * Resolves the org a request acts in: the x-org-id header (id or slug), else the credential's
 * bound org, else its default org. An org the caller cannot act in answers the same 403 whether
 * or not it exists, so org ids cannot be probed.
 */
export async function resolveOrg(
  deps: Deps,
  principal: Principal,
  header: string | undefined,
  req?: object,
): Promise<OrgContext | null> {
  const named = header?.trim() || null;
  if (principal.boundOrg) {
    if (named !== null && !matches(principal.boundOrg, named))
      throw new ApiError('org_forbidden', ORG_FORBIDDEN);
    return principal.boundOrg;
  }
  if (principal.superuser) {
    if (named === null) return null;
    const org = named.length <= 100 ? await findOrg(deps, named) : undefined;
    if (!org) throw new ApiError('org_forbidden', ORG_FORBIDDEN);
    return { ...org, role: 'owner' };
  }
  if (!principal.user) {
    if (named !== null) throw new ApiError('org_forbidden', ORG_FORBIDDEN);
    return null;
  }
  // Naming no org and with no current org, the request acts in none: nothing to read.
  if (named === null && !principal.defaultOrgId) return null;
  const orgs = await membershipsOf(deps, principal.user.id, req);
  if (named !== null) {
    const org = orgs.find((o) => matches(o, named));
    if (!org) throw new ApiError('org_forbidden', ORG_FORBIDDEN);
    return org;
  }
  // A session whose current org the person has since left simply has no current org.
  return principal.defaultOrgId ? (orgs.find((o) => o.id === principal.defaultOrgId) ?? null) : null;
}

async function findOrg(deps: Deps, ref: string) {
  const byId = UUID_RE.test(ref);
  return deps.db
    .selectFrom('orgs')
    .select(['id', 'slug', 'name'])
    .where(byId ? 'id' : 'slug', '=', byId ? ref.toLowerCase() : ref)
    .executeTakeFirst();
}

/** Effective permission = the role in the org ∩ the credential's scopes. */
export function requirePermission(org: OrgContext, principal: Principal, permission: Permission): void {
  if (!roleAllows(org.role, permission)) {
    throw new ApiError('forbidden', `The ${org.role} role may not do this.`);
  }
  requireScope(principal, permission);
}

/**
 * Everything `principal` may do in `org`, by `requirePermission`'s rule (the role's permissions
 * that the credential's scopes also hold): what `/api/v1/me` shows for each org.
 */
export function permissionsIn(org: OrgContext, principal: Principal): Permission[] {
  return [...ROLE_PERMISSIONS[org.role]].filter(
    (p) => principal.scopes === null || principal.scopes.includes(p),
  );
}
