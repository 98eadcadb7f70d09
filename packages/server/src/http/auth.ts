import type { FastifyRequest } from 'fastify';
import { isDisabled } from '../accounts/disable.js';
import { findSession, SESSION_COOKIE } from '../accounts/sessions.js';
import type { Deps } from '../deps.js';
import { safeEqual, sha256Hex, UUID_RE } from '../lib/secrets.js';
import { listUserOrgs } from '../orgs/queries.js';
import { type Permission, type Role, roleAllows } from '../orgs/roles.js';
import type { AccountScope } from '../tokens/scopes.js';
import { ApiError } from './errors.js';
import type { RouteNeeds } from './types.js';

export type CredentialKind = 'session' | 'pat' | 'svc' | 'org' | 'svc_agent' | 'oauth' | 'admin-token';

/** Who is calling. Built by the first authenticator that recognises the request's credential. */
export interface Principal {
  readonly kind: CredentialKind;
  /** The person behind the credential; null for credentials that are not a person. */
  readonly user: { readonly id: string; readonly email: string; readonly name: string } | null;
  readonly sessionId: string | null;
  /** Org-bound credentials (service tokens, org keys): the one org they act in, and their role there. */
  readonly boundOrg: OrgContext | null;
  /** The org used when the request names none (a session's current org). */
  readonly defaultOrgId: string | null;
  /** null: everything the role allows. */
  readonly scopes: readonly string[] | null;
  /** Display prefix of a token credential. */
  readonly prefix: string | null;
  /** How the audit log names this caller. */
  readonly actor: string;
  /** Break-glass credentials act as owner in any org. */
  readonly superuser: boolean;
  /** The credential's own row id (API or OAuth token): the parent of what it mints. */
  readonly tokenId: string | null;
  /** When the credential expires (ms since the epoch); what it mints expires no later. */
  readonly expiresAt: number | null;
  /** A browser session, or a personal token a session minted: may act on the account itself. */
  readonly fromSession: boolean;
  /** Whether the person behind the credential has proven their address. */
  readonly emailVerified: boolean;
  /** Sessions: when the person signed in (ms since the epoch). */
  readonly signedInAt: number | null;
}

export interface OrgContext {
  readonly id: string;
  readonly slug: string;
  readonly name: string;
  readonly role: Role;
}

/**
 * An authentication tier. Returns a principal, null (not my kind of credential) or throws 401
 * (my kind, but not valid). `authenticate` tries the tiers in their documented order.
 */
export type Authenticator = (req: FastifyRequest, deps: Deps) => Promise<Principal | null>;

/** Every invalid credential — unknown, revoked, expired, malformed — answers exactly this. */
export function invalidCredential(): ApiError {
  return new ApiError('unauthorized', 'The credential is not valid.', {
    headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
  });
}

export function bearerToken(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer +([\x21-\x7e]+) *$/i.exec(h);
  return m ? m[1]! : null;
}

/** Tier 1: the browser session cookie. A stale cookie is no credential (the route decides). */
export const sessionAuthenticator: Authenticator = async (req, deps) => {
  const token = req.cookies[SESSION_COOKIE];
  if (!token || token.length > 100) return null;
  const hash = sha256Hex(token);
  let cred = deps.auth.credential(hash);
  if (cred === undefined) {
    const generation = deps.auth.generation();
    const found = await findSession(deps.db, deps.clock, token);
    // A session of a disabled account is no credential (disabling ended them; this refuses any later).
    const s = found && !(await isDisabled(deps.db, found.userId)) ? found : null;
    cred = s
      ? {
          id: s.sessionId,
          expiresAt: s.expiresAt.getTime(),
          boundOrg: null,
          principal: {
            kind: 'session',
            user: { id: s.userId, email: s.email, name: s.name },
            sessionId: s.sessionId,
            boundOrg: null,
            defaultOrgId: s.orgId,
            scopes: null,
            prefix: null,
            actor: `user:${s.userId}`,
            superuser: false,
            tokenId: null,
            expiresAt: null,
            fromSession: true,
            emailVerified: s.emailVerified,
            signedInAt: s.createdAt.getTime(),
          },
        }
      : null;
    deps.auth.putCredential(hash, cred, generation);
  }
  if (!cred || (cred.expiresAt !== null && cred.expiresAt <= deps.clock.now().getTime())) return null;
  return cred.principal;
};

/** Last tier: the ADMIN_TOKEN break-glass credential, compared in constant time. */
export const adminTokenAuthenticator: Authenticator = async (req, deps) => {
  const bearer = bearerToken(req);
  if (!bearer || !deps.config.adminToken || !safeEqual(bearer, deps.config.adminToken)) return null;
  return {
    kind: 'admin-token',
    user: null,
    sessionId: null,
    boundOrg: null,
    defaultOrgId: null,
    scopes: null,
    prefix: null,
    actor: 'admin-token',
    superuser: true,
    tokenId: null,
    expiresAt: null,
    fromSession: false,
    emailVerified: true,
    signedInAt: null,
  };
};

/** Runs the tiers in order. A credential nobody recognises is a 401, never anonymous access. */
export async function authenticate(
  req: FastifyRequest,
  deps: Deps,
  tiers: readonly Authenticator[],
): Promise<Principal | null> {
  for (const tier of tiers) {
    const p = await tier(req, deps);
    if (p) return p;
  }
  if (req.headers.authorization !== undefined) throw invalidCredential();
  return null;
}

const ORG_FORBIDDEN = 'You cannot act in this organisation.';

/** A person's orgs and roles: from the node's cache, else the database. */
export async function membershipsOf(deps: Deps, userId: string): Promise<OrgContext[]> {
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
  const orgs = await membershipsOf(deps, principal.user.id);
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

/** Route declarations may name only these kinds of credential. */
export const CREDENTIAL_KINDS: readonly CredentialKind[] = [
  'session',
  'pat',
  'svc',
  'org',
  'svc_agent',
  'oauth',
  'admin-token',
];

/**
 * Build-time check of a route's declaration: every authenticated route says what it needs.
 * Returns why the declaration is not acceptable, or null.
 */
export function declarationProblem(mode: string, needs: RouteNeeds): string | null {
  if (mode === 'none') return null;
  if (
    needs.credentials &&
    (needs.credentials.length === 0 || needs.credentials.some((k) => !CREDENTIAL_KINDS.includes(k)))
  )
    return 'config.credentials must list known credential kinds';
  if (mode === 'org' && !needs.permission) return 'an org route must declare config.permission';
  if (!needs.permission && !needs.scope && !needs.credentials)
    return 'declare config.permission, config.scope or config.credentials';
  return null;
}

/** A credential kind the route does not take: refused, whatever it holds. */
export function requireCredentialKind(principal: Principal, kinds: readonly CredentialKind[]): void {
  if (kinds.includes(principal.kind)) return;
  if (kinds.length === 1 && kinds[0] === 'session')
    throw new ApiError('session_required', 'This needs a browser session.');
  throw new ApiError('credential_not_accepted', `This takes only: ${kinds.join(', ')}.`, {
    extra: { accepted: [...kinds] },
  });
}

/**
 * A person-level scope. `account:read` is implied by `account:write`. `account:write` is honoured
 * only from a browser session or a personal token that a session minted holding it: an OAuth
 * token, a token minted by another token, or a service credential never changes the account.
 */
export function requireAccountScope(principal: Principal, scope: AccountScope): void {
  // A credential that is no person has no account: reading `me` shows it only itself.
  if (!principal.user && scope === 'account:read') return;
  if (!principal.user) throw new ApiError('forbidden', 'This needs a credential that acts as a person.');
  if (scope === 'account:write') {
    if (principal.kind === 'session') return;
    if (principal.kind !== 'pat' || !principal.fromSession)
      throw new ApiError(
        'session_required',
        'Changing the account needs a browser session, or a personal token created in one with account:write.',
      );
    requireScope(principal, 'account:write');
    return;
  }
  if (scope === 'account:read' && principal.scopes?.includes('account:write')) return;
  requireScope(principal, scope);
}

/** Effective permission = the role in the org ∩ the credential's scopes. */
export function requirePermission(org: OrgContext, principal: Principal, permission: Permission): void {
  if (!roleAllows(org.role, permission)) {
    throw new ApiError('forbidden', `The ${org.role} role may not do this.`);
  }
  requireScope(principal, permission);
}

export function requireScope(principal: Principal, scope: string): void {
  if (principal.scopes !== null && !principal.scopes.includes(scope)) {
    throw new ApiError('forbidden', `The credential lacks the ${scope} scope.`, { extra: { scope } });
  }
}
