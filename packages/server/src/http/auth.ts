import type { FastifyRequest } from 'fastify';
import { findSession, SESSION_COOKIE } from '../accounts/sessions.js';
import type { Db } from '../db/connection.js';
import type { Deps } from '../deps.js';
import { safeEqual, UUID_RE } from '../lib/secrets.js';
import { type Permission, type Role, roleAllows } from '../orgs/roles.js';
import { ApiError } from './errors.js';

/** Who is calling. Built by the first authenticator that recognises the request's credential. */
export interface Principal {
  readonly kind: 'session' | 'admin-token';
  /** The person behind the credential; null for credentials that are not a person. */
  readonly user: { readonly id: string; readonly email: string; readonly name: string } | null;
  readonly sessionId: string | null;
  /** The org a credential is bound to: it may act in no other. */
  readonly boundOrgId: string | null;
  /** The org used when the request names none (a session's current org). */
  readonly defaultOrgId: string | null;
  /** null: everything the role allows. */
  readonly scopes: readonly string[] | null;
  /** Display prefix of a token credential. */
  readonly prefix: string | null;
  /** How the audit log names this caller. */
  readonly actor: string;
  /** True for break-glass credentials that act as owner in any org. */
  readonly superuser: boolean;
}

export interface OrgContext {
  readonly id: string;
  readonly slug: string;
  readonly name: string;
  readonly role: Role;
}

/**
 * The documented order of authentication tiers. Each returns a principal, null (not my kind of
 * credential) or throws 401 (my kind, but invalid). The first non-null wins.
 */
export type Authenticator = (req: FastifyRequest, deps: Deps) => Promise<Principal | null>;

const sessionCookie: Authenticator = async (req, deps) => {
  const token = req.cookies[SESSION_COOKIE];
  if (!token) return null;
  const s = await findSession(deps.db, deps.clock, token);
  // A stale cookie is no credential at all; the route decides whether one is needed.
  if (!s) return null;
  return {
    kind: 'session',
    user: { id: s.userId, email: s.email, name: s.name },
    sessionId: s.sessionId,
    boundOrgId: null,
    defaultOrgId: s.orgId,
    scopes: null,
    prefix: null,
    actor: `user:${s.userId}`,
    superuser: false,
  };
};

const adminToken: Authenticator = async (req, deps) => {
  const bearer = bearerToken(req);
  if (!bearer || !deps.config.adminToken || !safeEqual(bearer, deps.config.adminToken)) return null;
  return {
    kind: 'admin-token',
    user: null,
    sessionId: null,
    boundOrgId: null,
    defaultOrgId: null,
    scopes: null,
    prefix: null,
    actor: 'admin-token',
    superuser: true,
  };
};

export const AUTHENTICATORS: Authenticator[] = [sessionCookie, adminToken];

export function bearerToken(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer +([\x21-\x7e]+) *$/i.exec(h);
  return m ? m[1]! : null;
}

export async function authenticate(req: FastifyRequest, deps: Deps): Promise<Principal | null> {
  for (const a of AUTHENTICATORS) {
    const p = await a(req, deps);
    if (p) return p;
  }
  if (req.headers.authorization !== undefined) {
    throw new ApiError('unauthorized', 'The credential is not valid.', {
      headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
    });
  }
  return null;
}

const ORG_FORBIDDEN = 'You cannot act in this organisation.';

/**
 * Resolves the org a request acts in: the x-org-id header (id or slug), else the credential's
 * bound org, else its default org. An org the caller cannot act in answers the same 403 whether
 * or not it exists, so org ids cannot be probed.
 */
export async function resolveOrg(
  db: Db,
  principal: Principal,
  header: string | undefined,
): Promise<OrgContext | null> {
  const named = header?.trim() || null;
  if (named !== null) {
    const org = await lookupOrg(db, named, principal);
    if (!org) throw new ApiError('org_forbidden', ORG_FORBIDDEN);
    if (principal.boundOrgId && principal.boundOrgId !== org.id) throw new ApiError('org_forbidden', ORG_FORBIDDEN);
    return org;
  }
  const fallback = principal.boundOrgId ?? principal.defaultOrgId;
  if (!fallback) return null;
  const org = await lookupOrg(db, fallback, principal);
  if (!org && principal.boundOrgId) throw new ApiError('org_forbidden', ORG_FORBIDDEN);
  // A session whose current org the user has since left simply has no current org.
  return org;
}

async function lookupOrg(db: Db, ref: string, principal: Principal): Promise<OrgContext | null> {
  if (ref.length > 100) return null;
  const byId = UUID_RE.test(ref);
  const userId = principal.user?.id ?? null;
  const row = await db
    .selectFrom('orgs')
    .leftJoin('memberships', (j) =>
      j.onRef('memberships.org_id', '=', 'orgs.id').on('memberships.user_id', '=', userId ?? '00000000-0000-0000-0000-000000000000'),
    )
    .select(['orgs.id', 'orgs.slug', 'orgs.name', 'memberships.role'])
    .where(byId ? 'orgs.id' : 'orgs.slug', '=', byId ? ref.toLowerCase() : ref)
    .executeTakeFirst();
  if (!row) return null;
  const role: Role | null = principal.superuser ? 'owner' : (row.role ?? null);
  if (!role) return null;
  return { id: row.id, slug: row.slug, name: row.name, role };
}

export function requirePermission(org: OrgContext, principal: Principal, permission: Permission): void {
  if (!roleAllows(org.role, permission)) {
    throw new ApiError('forbidden', `The ${org.role} role may not do this.`);
  }
  if (principal.scopes !== null && !principal.scopes.includes(permission)) {
    throw new ApiError('forbidden', 'The credential does not carry the scope this needs.');
  }
}
