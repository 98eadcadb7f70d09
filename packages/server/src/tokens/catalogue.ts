import type { Config, ResourceConfig } from '../config/index.js';
import type { ScopeRisk } from '../config/catalogue.js';
import { ConfigError } from '../config/errors.js';
import { API_SCOPES } from './scopes.js';

/**
 * The protected resources and their scopes: configured resources plus Latchkey's own API
 * (`PUBLIC_URL/api`), with each scope's description and risk. Built once from config.
 */
export interface Scope {
  readonly name: string;
  readonly description: string;
  readonly risk: ScopeRisk;
}

export interface Resource {
  readonly id: string;
  /** The resource indicator (RFC 8707) and the audience of its tokens. */
  readonly url: string;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly secret: string | null;
  /** Introspection answers for Latchkey API tokens too (`accept_api_tokens`). */
  readonly acceptApiTokens: boolean;
  /** `jwt`: access tokens for this resource are RFC 9068 JWTs (oauth/oidc/jwt-access-token.ts). */
  readonly tokenFormat: 'opaque' | 'jwt';
  /** Latchkey's own API. */
  readonly builtin: boolean;
  /** The tools each scope unlocks (`[resources.tools]`), for the consent page; empty when not declared. */
  readonly tools: ReadonlyMap<string, readonly string[]>;
}

export interface Catalogue {
  readonly resources: readonly Resource[];
  readonly scopes: ReadonlyMap<string, Scope>;
  /** The resource for an indicator, compared normalised (`normalizeResourceUrl`); undefined when not configured. */
  resource(url: string): Resource | undefined;
  /** Latchkey's own API. */
  readonly api: Resource;
  scope(name: string): Scope;
  /** A resource's default scopes when a request names none: every scope that is not high-risk. */
  defaultScopes(resource: Resource): string[];
  /** Every scope of every resource, for discovery. */
  readonly allScopes: readonly string[];
}

/** The MCP catalogue, used for a configured resource that lists no scopes. */
export const DEFAULT_SCOPES: readonly Scope[] = [
  { name: 'mcp:read', description: 'Read resources and list tools', risk: 'low' },
  { name: 'mcp:write', description: 'Create and change resources', risk: 'medium' },
  { name: 'mcp:run', description: 'Run tools', risk: 'medium' },
  { name: 'mcp:clone:write', description: 'Clone and write repositories', risk: 'medium' },
  { name: 'mcp:trace:read', description: 'Read traces and logs', risk: 'low' },
  { name: 'mcp:debug', description: 'Use debugging tools', risk: 'medium' },
  { name: 'mcp:explore', description: 'Explore systems on your behalf', risk: 'high' },
  { name: 'mcp:act', description: 'Take actions on your behalf', risk: 'high' },
  { name: 'mcp:identity', description: 'Act with your identity', risk: 'high' },
];

const API_SCOPE_INFO: Record<string, { description: string; risk: ScopeRisk }> = {
  'org:read': { description: 'Read the organisation', risk: 'low' },
  'org:update': { description: 'Change organisation settings', risk: 'medium' },
  'org:delete': { description: 'Delete the organisation', risk: 'high' },
  'org:transfer': { description: 'Transfer ownership of the organisation', risk: 'high' },
  'members:read': { description: 'List members', risk: 'low' },
  'members:manage': { description: 'Change and remove members', risk: 'high' },
  'invitations:manage': { description: 'Invite people', risk: 'medium' },
  'audit:read': { description: 'Read the audit log', risk: 'low' },
  'billing:read': { description: 'Read billing data', risk: 'low' },
  'tokens:manage': { description: 'Create and revoke API tokens', risk: 'high' },
  'oauth:manage': { description: 'Manage OAuth apps and grants', risk: 'high' },
  'orgs:create': { description: 'Create organisations', risk: 'medium' },
  'account:write': { description: 'Change your account', risk: 'high' },
};

/**
 * A resource indicator in the form resources are matched on: scheme and host lowercase, default
 * port dropped, an empty path as `/` (RFC 3986 §6.2.2–6.2.3, as WHATWG URL parsing does). Null when
 * it is not an absolute http(s) URL without fragment or credentials.
 */
export function normalizeResourceUrl(value: string): string | null {
  if (value.length > 2000 || value.includes('#')) return null;
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return null;
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.username || u.password) return null;
  return u.href;
}

export const API_RESOURCE_ID = 'latchkey';

export function buildCatalogue(config: Pick<Config, 'publicUrl' | 'resources' | 'scopes'>): Catalogue {
  const scopes = new Map<string, Scope>();
  const define = (name: string, description: string, risk: ScopeRisk) => {
    const o = config.scopes.get(name);
    scopes.set(
      name,
      Object.freeze({ name, description: o?.description ?? description, risk: o?.risk ?? risk }),
    );
  };
  for (const s of DEFAULT_SCOPES) define(s.name, s.description, s.risk);
  for (const s of API_SCOPES) {
    const info = API_SCOPE_INFO[s] ?? { description: s, risk: 'medium' as const };
    define(s, info.description, info.risk);
  }
  const api: Resource = Object.freeze({
    id: API_RESOURCE_ID,
    url: `${config.publicUrl}/api`,
    name: 'Latchkey API',
    scopes: Object.freeze([...API_SCOPES]),
    secret: null,
    acceptApiTokens: false,
    tokenFormat: 'opaque',
    builtin: true,
    tools: new Map(),
  });
  const configured = config.resources.map((r: ResourceConfig, i): Resource => {
    const list = r.scopes ?? DEFAULT_SCOPES.map((s) => s.name);
    for (const scope of r.tools.keys())
      if (!list.includes(scope))
        throw new ConfigError(`resources[${i}].tools."${scope}"`, "is not one of the resource's scopes");
    for (const s of list) if (!scopes.has(s)) define(s, config.scopes.get(s)?.description ?? s, 'medium');
    return Object.freeze({
      id: r.id,
      url: r.url,
      name: r.name,
      scopes: Object.freeze([...list]),
      secret: r.secret,
      acceptApiTokens: r.acceptApiTokens,
      tokenFormat: r.tokenFormat,
      builtin: false,
      tools: r.tools,
    });
  });
  for (const name of config.scopes.keys()) if (!scopes.has(name)) define(name, name, 'medium');
  const resources = Object.freeze([api, ...configured.filter((r) => r.url !== api.url && r.id !== api.id)]);
  const byUrl = new Map(resources.map((r) => [normalizeResourceUrl(r.url) ?? r.url, r]));
  const allScopes = Object.freeze([...new Set(resources.flatMap((r) => r.scopes))]);
  return Object.freeze({
    resources,
    scopes,
    api,
    allScopes,
    resource: (url: string) => {
      const key = normalizeResourceUrl(url);
      return key === null ? undefined : byUrl.get(key);
    },
    scope: (name: string) => scopes.get(name) ?? { name, description: name, risk: 'medium' as const },
    defaultScopes: (r: Resource) => r.scopes.filter((s) => scopes.get(s)?.risk !== 'high'),
  });
}
