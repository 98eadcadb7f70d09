import { ConfigError } from './errors.js';

/**
 * The `[[resources]]` and `[scopes."…"]` sections of latchkey.toml, checked once at start.
 * This is the shape users write; `oauth/catalogue.ts` adds Latchkey's own API and the defaults.
 */
export type ScopeRisk = 'low' | 'medium' | 'high';
export const SCOPE_RISKS: readonly ScopeRisk[] = ['low', 'medium', 'high'];

export interface ResourceConfig {
  /** The resource server's introspection client id. */
  readonly id: string;
  /** The RFC 8707 resource indicator and token audience. */
  readonly url: string;
  readonly name: string;
  /** null: the whole catalogue. */
  readonly scopes: readonly string[] | null;
  /** The resource server's credential for introspection (HTTP Basic id:secret); null: none. */
  readonly secret: string | null;
  /** Whether introspection also answers for Latchkey API tokens (PAT, service, org, agent keys). */
  readonly acceptApiTokens: boolean;
  /** `[resources.tools]`: the tools each scope unlocks, shown on the consent page. Optional. */
  readonly tools: ReadonlyMap<string, readonly string[]>;
  /** `token_format`: `opaque` (default) or `jwt` — RFC 9068 access tokens the SDK checks offline. */
  readonly tokenFormat: 'opaque' | 'jwt';
}

export interface ScopeConfig {
  readonly description?: string;
  readonly risk?: ScopeRisk;
}

export const RESOURCE_SECRET_MIN_LENGTH = 32;
const ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const SCOPE_RE = /^[\x21\x23-\x5b\x5d-\x7e]{1,64}$/; // RFC 6749 §3.3 scope-token, bounded

export function parseResources(value: unknown): ResourceConfig[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new ConfigError('resources', 'must be an array of tables ([[resources]])');
  const seenIds = new Set<string>();
  const seenUrls = new Set<string>();
  return value.map((r: unknown, i) => {
    const at = `resources[${i}]`;
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new ConfigError(at, 'must be a table');
    const o = r as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (
        !['id', 'url', 'name', 'scopes', 'secret', 'accept_api_tokens', 'tools', 'token_format'].includes(k)
      )
        throw new ConfigError(`${at}.${k}`, 'unknown key');
    }
    if (typeof o.id !== 'string' || !ID_RE.test(o.id) || o.id.startsWith('lkc_')) {
      throw new ConfigError(
        `${at}.id`,
        'must be 1–64 lowercase letters, digits, ".", "_" or "-" (not starting "lkc_")',
      );
    }
    if (seenIds.has(o.id)) throw new ConfigError(`${at}.id`, `"${o.id}" is used twice`);
    seenIds.add(o.id);
    const url = parseResourceUrl(`${at}.url`, o.url);
    // Requests are matched on the normalised URL (oauth/catalogue.ts): two may not share one.
    const key = new URL(url).href;
    if (seenUrls.has(key)) throw new ConfigError(`${at}.url`, `${url} is used twice`);
    seenUrls.add(key);
    const name = o.name === undefined ? o.id : o.name;
    if (typeof name !== 'string' || name.length < 1 || name.length > 100) {
      throw new ConfigError(`${at}.name`, 'must be 1–100 characters');
    }
    let scopes: string[] | null = null;
    if (o.scopes !== undefined) {
      if (
        !Array.isArray(o.scopes) ||
        o.scopes.length === 0 ||
        !o.scopes.every((s) => typeof s === 'string' && SCOPE_RE.test(s))
      ) {
        throw new ConfigError(`${at}.scopes`, 'must be a non-empty array of scope names');
      }
      scopes = [...new Set(o.scopes as string[])];
    }
    let secret: string | null = null;
    if (o.secret !== undefined) {
      if (typeof o.secret !== 'string' || o.secret.length < RESOURCE_SECRET_MIN_LENGTH) {
        throw new ConfigError(`${at}.secret`, `must be at least ${RESOURCE_SECRET_MIN_LENGTH} characters`);
      }
      secret = o.secret;
    }
    if (o.accept_api_tokens !== undefined && typeof o.accept_api_tokens !== 'boolean') {
      throw new ConfigError(`${at}.accept_api_tokens`, 'must be true or false');
    }
    const acceptApiTokens = o.accept_api_tokens === true;
    if (acceptApiTokens && secret === null) {
      throw new ConfigError(`${at}.accept_api_tokens`, 'needs the resource to have a secret');
    }
    const tools = parseTools(`${at}.tools`, o.tools, scopes);
    if (o.token_format !== undefined && o.token_format !== 'opaque' && o.token_format !== 'jwt')
      throw new ConfigError(`${at}.token_format`, 'must be "opaque" or "jwt"');
    const tokenFormat = o.token_format === 'jwt' ? ('jwt' as const) : ('opaque' as const);
    return Object.freeze({
      id: o.id,
      url,
      name,
      scopes: scopes && Object.freeze(scopes),
      secret,
      acceptApiTokens,
      tools,
      tokenFormat,
    });
  });
}

export const TOOLS_PER_SCOPE_MAX = 100;
const TOOL_NAME_RE = /^[A-Za-z0-9_.\-/:]{1,128}$/;

/**
 * `[resources.tools]`: `"scope" = ["tool", …]`, the tools a scope unlocks at this resource (names
 * as the MCP server lists them). Each scope must be one of the resource's (`scopes`, or the
 * default catalogue's names when it lists none — checked against the catalogue by its builder).
 */
function parseTools(
  at: string,
  value: unknown,
  scopes: readonly string[] | null,
): Map<string, readonly string[]> {
  const out = new Map<string, readonly string[]>();
  if (value === undefined) return out;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ConfigError(at, 'must be a table of "scope" = ["tool", …]');
  for (const [scope, list] of Object.entries(value)) {
    if (!SCOPE_RE.test(scope)) throw new ConfigError(`${at}."${scope}"`, 'is not a valid scope name');
    if (scopes && !scopes.includes(scope))
      throw new ConfigError(`${at}."${scope}"`, "is not one of the resource's scopes");
    if (
      !Array.isArray(list) ||
      list.length > TOOLS_PER_SCOPE_MAX ||
      !list.every((t) => typeof t === 'string' && TOOL_NAME_RE.test(t))
    ) {
      throw new ConfigError(
        `${at}."${scope}"`,
        `must be an array of at most ${TOOLS_PER_SCOPE_MAX} tool names (letters, digits, _ . - / :, up to 128)`,
      );
    }
    out.set(scope, Object.freeze([...new Set(list as string[])]));
  }
  return out;
}

export function parseScopes(value: unknown): Map<string, ScopeConfig> {
  const out = new Map<string, ScopeConfig>();
  if (value === undefined) return out;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError('scopes', 'must be a table of [scopes."name"] tables');
  }
  for (const [name, v] of Object.entries(value)) {
    const at = `scopes."${name}"`;
    if (!SCOPE_RE.test(name)) throw new ConfigError(at, 'is not a valid scope name');
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(at, 'must be a table');
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (k !== 'description' && k !== 'risk') throw new ConfigError(`${at}.${k}`, 'unknown key');
    }
    if (o.description !== undefined && (typeof o.description !== 'string' || o.description.length > 300)) {
      throw new ConfigError(`${at}.description`, 'must be a string of at most 300 characters');
    }
    if (o.risk !== undefined && !SCOPE_RISKS.includes(o.risk as ScopeRisk)) {
      throw new ConfigError(`${at}.risk`, `must be one of ${SCOPE_RISKS.join(', ')}`);
    }
    out.set(
      name,
      Object.freeze({
        description: o.description as string | undefined,
        risk: o.risk as ScopeRisk | undefined,
      }),
    );
  }
  return out;
}

function parseResourceUrl(at: string, v: unknown): string {
  if (typeof v !== 'string') throw new ConfigError(at, 'must be an absolute http(s) URL');
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError(at, 'must be an absolute http(s) URL');
  }
  if (
    (u.protocol !== 'https:' && u.protocol !== 'http:') ||
    u.hash ||
    v.includes('#') ||
    u.username ||
    u.password
  ) {
    throw new ConfigError(at, 'must be an absolute http(s) URL without fragment or credentials (RFC 8707)');
  }
  return v;
}

/**
 * The `[agent_plans.unclaimed]` and `[agent_plans.free]` sections: what a self-registered agent's
 * key may do before a human claims it, and on the free plan after. Every key is optional.
 * Besides `scopes`, every key named `<what>_per_day` or `<what>_per_month` is a limit: a budget
 * that reaches resource servers through introspection (`limits`) with its period — a UTC day or a
 * calendar month (UTC) — for the SDK's quota to enforce.
 */
export type LimitPeriod = 'day' | 'month';

export interface PlanLimit {
  /** The configuration key, e.g. `guard_runs_per_month`. */
  readonly name: string;
  readonly limit: number;
  readonly period: LimitPeriod;
}

export interface AgentPlan {
  readonly scopes: readonly string[];
  /** Every limit of the plan, in configuration order (the built-in ones first). */
  readonly limits: readonly PlanLimit[];
}

export interface AgentPlans {
  readonly unclaimed: AgentPlan;
  readonly free: AgentPlan;
  /**
   * Days an agent's org may stay unclaimed (`[agent_plans.unclaimed] delete_after_days`): then its
   * keys are revoked and the org deleted, audited. 0 keeps them forever.
   */
  readonly unclaimedDeleteAfterDays: number;
}

/** A limit key: `<what>_per_day` or `<what>_per_month`, lowercase. */
export const LIMIT_KEY_RE = /^[a-z][a-z0-9_]{0,50}_per_(day|month)$/;

const limit = (name: string, n: number): PlanLimit =>
  Object.freeze({ name, limit: n, period: LIMIT_KEY_RE.exec(name)![1] as LimitPeriod });

export const DEFAULT_AGENT_PLANS: AgentPlans = Object.freeze({
  unclaimed: Object.freeze({
    scopes: Object.freeze(['mcp:read', 'mcp:run']),
    limits: Object.freeze([limit('mcp_calls_per_day', 200), limit('guard_runs_per_month', 50)]),
  }),
  free: Object.freeze({
    scopes: Object.freeze(['mcp:read', 'mcp:write', 'mcp:run', 'mcp:clone:write', 'mcp:trace:read']),
    limits: Object.freeze([limit('mcp_calls_per_day', 1000), limit('guard_runs_per_month', 50)]),
  }),
  unclaimedDeleteAfterDays: 30,
});

const DELETE_AFTER_DAYS_MAX = 3650;

const PLAN_NUMBER_MAX = 1_000_000_000;
/** Limits one plan may name (each one is a field of every introspection answer for its keys). */
const PLAN_LIMITS_MAX = 20;

export function parseAgentPlans(value: unknown): AgentPlans {
  if (value === undefined) return DEFAULT_AGENT_PLANS;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ConfigError('agent_plans', 'must be a table of [agent_plans.unclaimed] / [agent_plans.free]');
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (k !== 'unclaimed' && k !== 'free') throw new ConfigError(`agent_plans.${k}`, 'unknown plan');
  let days = DEFAULT_AGENT_PLANS.unclaimedDeleteAfterDays;
  let unclaimed = o.unclaimed;
  if (typeof unclaimed === 'object' && unclaimed !== null && !Array.isArray(unclaimed)) {
    const { delete_after_days: d, ...rest } = unclaimed as Record<string, unknown>;
    if (d !== undefined) {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0 || d > DELETE_AFTER_DAYS_MAX)
        throw new ConfigError(
          'agent_plans.unclaimed.delete_after_days',
          `must be an integer 0–${DELETE_AFTER_DAYS_MAX} (0: never)`,
        );
      days = d;
    }
    unclaimed = rest;
  }
  return Object.freeze({
    unclaimed: parseAgentPlan('unclaimed', unclaimed, DEFAULT_AGENT_PLANS.unclaimed),
    free: parseAgentPlan('free', o.free, DEFAULT_AGENT_PLANS.free),
    unclaimedDeleteAfterDays: days,
  });
}

function parseAgentPlan(name: string, value: unknown, base: AgentPlan): AgentPlan {
  const at = `agent_plans.${name}`;
  if (value === undefined) return base;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ConfigError(at, 'must be a table');
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k !== 'scopes' && !LIMIT_KEY_RE.test(k))
      throw new ConfigError(
        `${at}.${k}`,
        'unknown key (a limit is named <what>_per_day or <what>_per_month, in lowercase)',
      );
  }
  if (
    o.scopes !== undefined &&
    (!Array.isArray(o.scopes) || !o.scopes.every((s) => typeof s === 'string' && SCOPE_RE.test(s)))
  )
    throw new ConfigError(`${at}.scopes`, 'must be an array of scope names');
  const limits = new Map(base.limits.map((l) => [l.name, l]));
  for (const [k, v] of Object.entries(o)) {
    if (k === 'scopes') continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > PLAN_NUMBER_MAX)
      throw new ConfigError(`${at}.${k}`, `must be an integer 0–${PLAN_NUMBER_MAX}`);
    limits.set(k, limit(k, v));
  }
  if (limits.size > PLAN_LIMITS_MAX) throw new ConfigError(at, `names more than ${PLAN_LIMITS_MAX} limits`);
  return Object.freeze({
    scopes: Object.freeze(o.scopes ? [...new Set(o.scopes as string[])] : [...base.scopes]),
    limits: Object.freeze([...limits.values()]),
  });
}
