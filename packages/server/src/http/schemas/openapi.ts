import type { RouteOptions } from 'fastify';
import type { CredentialKind } from '../../auth/principal.js';
import { OAUTH_ERROR_RESPONSES, PROBLEM_RESPONSES, SCIM_ERROR_RESPONSES } from './errors.js';

/**
 * The OpenAPI document is generated from the route schemas (`@fastify/swagger`). This module
 * holds what is common to every route — security from the route's declared credentials, the error
 * responses of its protocol, a unique operationId and a tag — and fills it into each route's
 * schema as the route is added, so the document and the serialisers read the same schema.
 */

/** Marks a body or query schema that documents what the handler parses itself (see `app.ts`). */
export const PARSED_BY_HANDLER = 'x-parsed-by-handler';

export const SECURITY_SCHEMES = {
  session: {
    type: 'apiKey',
    in: 'cookie',
    name: 'lk_session',
    description:
      'The browser session (`__Host-lk_session` on https). Unsafe methods also need a matching `Origin` header.',
  },
  bearer: {
    type: 'http',
    scheme: 'bearer',
    description:
      'A Latchkey API token (`lk_pat_…`, `lk_svc_…`, `lk_org_…`, `lk_svc_agent_…`) or an OAuth access token issued for this API.',
  },
  adminToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'The break-glass `ADMIN_TOKEN` of the instance; every use is audited.',
  },
  clientSecretBasic: {
    type: 'http',
    scheme: 'basic',
    description:
      'OAuth client authentication (`client_secret_basic`): the client id and secret. Public clients send `client_id` in the form instead; `client_secret_post` is also accepted.',
  },
  resourceServerBasic: {
    type: 'http',
    scheme: 'basic',
    description: 'A resource server configured in `latchkey.toml`: its id and secret.',
  },
  scimToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'The organisation’s SCIM token (made by POST /api/v1/org/scim/token).',
  },
} as const;

export type SecurityScheme = keyof typeof SECURITY_SCHEMES;

export const TAGS = [
  { name: 'oauth', description: 'OAuth 2.1 / OpenID Connect endpoints and discovery documents.' },
  { name: 'auth', description: 'Browser sign-in, sessions and second factors.' },
  { name: 'me', description: 'The signed-in person’s account.' },
  { name: 'account', description: 'Second factors and step-up of the signed-in person.' },
  { name: 'orgs', description: 'Organisations and their settings.' },
  { name: 'members', description: 'Members of the current organisation.' },
  { name: 'invitations', description: 'Invitations to the current organisation.' },
  { name: 'tokens', description: 'Personal and organisation API tokens.' },
  { name: 'oauth apps', description: 'OAuth clients registered by organisations.' },
  { name: 'grants', description: 'Consents people gave to OAuth clients.' },
  { name: 'agents', description: 'AI agents: sign-up, claim, approval.' },
  { name: 'audit', description: 'The audit log.' },
  { name: 'sso', description: 'SAML and OIDC single sign-on.' },
  { name: 'scim', description: 'SCIM 2.0 provisioning (RFC 7643/7644).' },
  { name: 'admin', description: 'Instance administration (ADMIN_TOKEN or an instance admin).' },
  { name: 'revocations', description: 'The credential revocation stream for resource servers.' },
  { name: 'meta', description: 'This document.' },
];

/** The credential kinds each security scheme carries. */
const SCHEME_OF: Record<CredentialKind, SecurityScheme> = {
  session: 'session',
  pat: 'bearer',
  svc: 'bearer',
  org: 'bearer',
  svc_agent: 'bearer',
  oauth: 'bearer',
  'admin-token': 'adminToken',
};
const ALL_KINDS = Object.keys(SCHEME_OF) as CredentialKind[];

/** Whether a route belongs in the document at all (HTML pages and static files never do). */
export function isDocumented(url: string): boolean {
  return url.startsWith('/api/') || url.startsWith('/.well-known/');
}

/** The OAuth scope's routes answer RFC 6749 errors, SCIM's RFC 7644 errors, the rest problems. */
function errorResponses(url: string) {
  if (url.startsWith('/api/v1/scim/')) return SCIM_ERROR_RESPONSES;
  if (url.startsWith('/api/oauth/') || url.startsWith('/.well-known/')) return OAUTH_ERROR_RESPONSES;
  return PROBLEM_RESPONSES;
}

/** The security requirement of a route, from its declared authentication. */
export function securityOf(config: RouteOptions['config']): Record<string, string[]>[] {
  const cfg = (config ?? {}) as { auth?: string; credentials?: readonly CredentialKind[] };
  const mode = cfg.auth ?? 'none';
  if (mode === 'none') return [];
  const schemes = [...new Set((cfg.credentials ?? ALL_KINDS).map((k) => SCHEME_OF[k]))];
  const required = schemes.map((s) => ({ [s]: [] }));
  return mode === 'optional' ? [...required, {}] : required;
}

/** `deleteOrgMembersByUserId` from `DELETE /api/v1/org/members/:user_id`. */
export function operationIdOf(method: string, url: string): string {
  const words = url
    .split('/')
    .filter((s) => s !== '' && s !== 'api' && s !== 'v1' && s !== 'v2')
    .flatMap((s) => (s.startsWith(':') ? ['by', s.slice(1)] : [s]))
    .flatMap((s) => s.split(/[^A-Za-z0-9]+/))
    .filter(Boolean);
  const pascal = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
  return method.toLowerCase() + pascal;
}

function tagOf(url: string): string {
  if (url.startsWith('/api/oauth/') || url.startsWith('/.well-known/')) return 'oauth';
  if (url.startsWith('/api/sso/')) return 'sso';
  if (url === '/api/openapi.json') return 'meta';
  return url.split('/')[3] ?? 'meta';
}

/**
 * Fills in what the document needs and the route did not say: an operationId, a tag, the
 * security requirement of its declared credentials, and its protocol's error responses (4xx and
 * 5xx), which also become the serialisers of those answers — extension members pass through.
 */
export function documentRoute(route: RouteOptions): void {
  if (!isDocumented(route.url) || route.schema?.hide) return;
  const schema = (route.schema ??= {}) as Record<string, unknown>;
  const methods = [route.method].flat().filter((m) => m !== 'HEAD');
  // A route served on several methods gets one operationId each from the document's transform.
  if (schema.operationId === undefined && methods.length === 1)
    schema.operationId = operationIdOf(methods[0]!, route.url);
  schema.tags ??= [tagOf(route.url)];
  schema.security ??= securityOf(route.config);
  if (route.url.startsWith('/api/v1/scim/')) {
    schema.produces ??= ['application/scim+json'];
    schema.consumes ??= ['application/scim+json', 'application/json'];
  }
  schema.response = { ...errorResponses(route.url), ...(schema.response as object | undefined) };
}

/**
 * `@fastify/swagger`'s `transformObject`: a route served on several methods (UserInfo's GET and
 * POST) shares one schema, so each of its operations gets its own operationId here.
 */
export function finishDocument({ openapiObject }: { openapiObject: Partial<OpenApiDocument> }) {
  for (const [url, item] of Object.entries(openapiObject.paths ?? {})) {
    for (const [method, op] of Object.entries(item)) {
      if (op.operationId !== undefined) continue;
      item[method] = { ...op, operationId: operationIdOf(method, url.replace(/\{(\w+)\}/g, ':$1')) };
    }
  }
  return openapiObject;
}

interface OpenApiDocument {
  paths: Record<string, Record<string, { operationId?: string }>>;
}
