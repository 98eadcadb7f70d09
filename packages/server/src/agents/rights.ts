import type { AgentPlans, PlanLimit } from '../config/catalogue.js';
import type { AgentStatus } from '../db/schema/agents.js';
import { type Catalogue, DEFAULT_SCOPES } from '../tokens/catalogue.js';

/** The plan every self-registered agent's org is on. */
export const AGENT_PLAN = 'free';

export interface AgentRights {
  readonly allowed: readonly string[];
  readonly blocked: readonly string[];
  /** Every limit of the agent's plan, each with its period. */
  readonly limits: readonly PlanLimit[];
}

/**
 * The MCP scopes an agent could be given: the default catalogue and every configured resource's
 * scopes (Latchkey's own management scopes are governed by the key's role, not by plans).
 */
function agentCatalogue(catalogue: Catalogue): string[] {
  const all = new Set<string>(DEFAULT_SCOPES.map((s) => s.name));
  for (const r of catalogue.resources) if (!r.builtin) for (const s of r.scopes) all.add(s);
  return [...all];
}

/**
 * What an agent's key may do now: the unclaimed restrictions, or the free plan once a human has
 * claimed it (nothing once denied or revoked: every limit 0). High-risk scopes need a person's
 * explicit consent, so no plan can give them to an agent key, whatever the configuration says.
 */
export function agentRights(plans: AgentPlans, catalogue: Catalogue, status: AgentStatus): AgentRights {
  const plan =
    status === 'claimed'
      ? plans.free
      : status === 'unclaimed'
        ? plans.unclaimed
        : { scopes: [], limits: plans.unclaimed.limits.map((l) => ({ ...l, limit: 0 })) };
  const allowed = plan.scopes.filter((s) => catalogue.scope(s).risk !== 'high');
  return {
    allowed,
    blocked: agentCatalogue(catalogue).filter((s) => !allowed.includes(s)),
    limits: plan.limits,
  };
}

/** A limit by its configuration name; 0 when the plan does not name it. */
export function limitOf(r: AgentRights, name: string): number {
  return r.limits.find((l) => l.name === name)?.limit ?? 0;
}

/** The wire form of a plan's limits: `{name: {limit, period}}` (introspection, status, lists). */
export function limitsShape(r: AgentRights): Record<string, { limit: number; period: 'day' | 'month' }> {
  return Object.fromEntries(r.limits.map((l) => [l.name, { limit: l.limit, period: l.period }]));
}

/** The wire form of the restrictions (status, org agent lists). */
export function restrictionsShape(r: AgentRights) {
  return {
    allowed_scopes: [...r.allowed],
    blocked_scopes: [...r.blocked],
    mcp_calls_per_day: limitOf(r, 'mcp_calls_per_day'),
    guard_runs_per_month: limitOf(r, 'guard_runs_per_month'),
    limits: limitsShape(r),
  };
}
