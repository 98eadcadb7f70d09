import { orgMfaBlocks } from '../../accounts/mfa/org-policy.js';
import { agentOfKey } from '../../agents/queries.js';
import { agentRights, limitOf, limitsShape } from '../../agents/rights.js';
import { membershipsOf } from '../../orgs/context.js';
import { type OrgContext, type Principal } from '../../auth/principal.js';
import type { CachedCredential } from '../../auth/credential-cache.js';
import type { Deps } from '../../deps.js';
import { parseToken } from '../../tokens/format.js';
import type { Catalogue, Resource } from '../../tokens/catalogue.js';
import type { OAuthDeps } from '../grants/types.js';

const API_TOKEN_KINDS = new Set(['pat', 'svc', 'org', 'svc_agent']);

/** Whether `token` has the shape of a Latchkey API token (PAT, service, org or agent key). */
export function isApiToken(token: string, tokenPrefix: string): boolean {
  const kind = parseToken(token, tokenPrefix)?.kind;
  return kind !== undefined && API_TOKEN_KINDS.has(kind);
}

/**
 * The scopes an API token holds at a resource: the resource's scopes among those the token was
 * given, or — for a token minted with its kind's defaults — the resource's default scopes (never
 * the high-risk ones, which need a person's explicit consent).
 */
export function scopesAtResource(
  catalogue: Catalogue,
  resource: Resource,
  tokenScopes: readonly string[] | null,
): string[] {
  if (tokenScopes === null) return catalogue.defaultScopes(resource);
  return resource.scopes.filter((s) => tokenScopes.includes(s));
}

/**
 * The person a credential speaks for, as a configured resource server sees them in introspection:
 * their `email` and `name`, so it can greet and tell people apart. Resources are the operator's own
 * servers, authenticated by their secret; clients never see these (JWT access tokens, which a client
 * can read, carry neither). Nothing for credentials without a person (service tokens, org keys).
 */
export function introspectedPerson(p: { user: { email: string; name: string } | null }) {
  return p.user ? { email: p.user.email, name: p.user.name } : {};
}

/** The longest org reference (id or slug) worth looking up: slugs and ids are far shorter. */
const MAX_ORG_REF_LENGTH = 100;

/**
 * The org named in an introspection request (`org`: its id or slug), as the credential may act in
 * it — by the rule Latchkey's own API applies to `x-org-id`: a credential bound to one org acts
 * only there; a person's credential in the orgs they are a member of now (from the node's
 * membership cache, dropped on every node when a membership changes), unless the org's
 * `mfa_required` policy shuts them out; a credential that is neither acts in none. Null when it may
 * not act there, whether or not the org exists, so orgs cannot be probed.
 */
export async function orgNamedFor(deps: Deps, principal: Principal, ref: string): Promise<OrgContext | null> {
  if (ref.length > MAX_ORG_REF_LENGTH) return null;
  const matches = (o: OrgContext) => o.id === ref.toLowerCase() || o.slug === ref;
  let org: OrgContext | null = null;
  if (principal.boundOrg) org = matches(principal.boundOrg) ? principal.boundOrg : null;
  else if (principal.user) org = (await membershipsOf(deps, principal.user.id)).find(matches) ?? null;
  if (!org || (await orgMfaBlocks(deps, principal, org))) return null;
  return org;
}

/**
 * What an answer adds for the org a request named: its slug, and the role of the person behind the
 * credential there (a credential without a person has no role of its own to report).
 */
export function namedOrgMembers(principal: Principal, org: OrgContext) {
  return { org_slug: org.slug, ...(principal.user ? { org_role: org.role } : {}) };
}

/**
 * RFC 7662 answer for a Latchkey API token presented to a resource configured with
 * `accept_api_tokens`. A token that is not live, or that holds none of the resource's scopes, is
 * just `{active: false}`. The audience is the asking resource; `token_kind` says what it is; a PAT
 * acts as its person in any of their orgs, so its `org_id` is null — unless the request names an
 * org (`named`, already checked with `orgNamedFor`): then `org_id`, `org_slug` and `org_role` say
 * where it acts and as what. An agent key holds what its
 * agent's state allows now (unclaimed restrictions or the free plan, from configuration) and is
 * answered with `agent: {id, claimed}` and its plan's `limits` (each `{limit, period}`, the period a
 * UTC day or calendar month), plus `mcp_calls_per_day` at the top level for older SDKs.
 */
export async function apiTokenIntrospection(
  cred: CachedCredential | null,
  resource: Resource,
  deps: Pick<OAuthDeps, 'catalogue' | 'config' | 'db'>,
  named: OrgContext | null = null,
) {
  if (!cred) return { active: false as const };
  const p = cred.principal;
  const agent = p.kind === 'svc_agent' ? await agentOfKey(deps.db, cred.id) : null;
  if (p.kind === 'svc_agent' && agent?.status !== 'unclaimed' && agent?.status !== 'claimed')
    return { active: false as const };
  const rights = agent ? agentRights(deps.config.agentPlans, deps.catalogue, agent.status) : null;
  const scopes = rights
    ? resource.scopes.filter((s) => rights.allowed.includes(s))
    : scopesAtResource(deps.catalogue, resource, p.scopes);
  if (scopes.length === 0) return { active: false as const };
  return {
    active: true as const,
    scope: scopes.join(' '),
    sub: p.user?.id ?? `${p.kind}:${cred.id}`,
    ...introspectedPerson(p),
    org_id: named?.id ?? cred.boundOrg?.id ?? null,
    ...(named ? namedOrgMembers(p, named) : {}),
    aud: resource.url,
    iss: deps.config.publicUrl,
    ...(cred.expiresAt !== null ? { exp: Math.floor(cred.expiresAt / 1000) } : {}),
    token_type: 'Bearer',
    token_kind: p.kind,
    ...(agent && rights
      ? {
          agent: { id: agent.id, claimed: agent.status === 'claimed' },
          mcp_calls_per_day: limitOf(rights, 'mcp_calls_per_day'),
          limits: limitsShape(rights),
        }
      : {}),
  };
}
