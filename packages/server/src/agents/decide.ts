import type { Actor } from '../auth/principal.js';
import type { Deps } from '../deps.js';
import { type OrgContext, type Principal } from '../auth/principal.js';
import { membershipsOf } from '../orgs/context.js';
import { roleAllows } from '../orgs/roles.js';
import { claimAgent, closeAgent } from './claim.js';
import { type AgentRow, emailVerified, findAgent, lockAgent } from './queries.js';

/** What a person (or an org admin) may decide about an agent. */
export type Decision = 'approve' | 'deny' | 'revoke';

export type Access =
  | { ok: true; as: 'overseer' | 'admin' }
  | { ok: false; reason: 'not_found' | 'unverified' }
  | { ok: false; reason: 'forbidden'; detail: string };

const lacks = (p: Principal, scope: string) => p.scopes !== null && !p.scopes.includes(scope);

/**
 * Who may approve, deny or revoke an agent: an admin or owner of its org (role and credential
 * scope `tokens:manage`), or its human overseer — a person signed in with the email the agent
 * named, proven by mail (a magic link or an invitation), since a password sign-up does not prove
 * it. `named` is the org the request names (or the credential is bound to), if any; an agent in
 * another org, or one the caller has nothing to do with, is "not found".
 */
export async function mayDecide(
  deps: Deps,
  p: Principal,
  named: OrgContext | null,
  a: Pick<AgentRow, 'org_id' | 'human_email'>,
): Promise<Access> {
  const asAdmin = (org: OrgContext): Access => {
    if (!roleAllows(org.role, 'tokens:manage'))
      return { ok: false, reason: 'forbidden', detail: `The ${org.role} role may not do this.` };
    if (lacks(p, 'tokens:manage'))
      return { ok: false, reason: 'forbidden', detail: 'The credential lacks the tokens:manage scope.' };
    return { ok: true, as: 'admin' };
  };
  if (named) return named.id === a.org_id ? asAdmin(named) : { ok: false, reason: 'not_found' };
  if (p.superuser) return { ok: true, as: 'admin' };
  if (!p.user) return { ok: false, reason: 'not_found' };
  const org = (await membershipsOf(deps, p.user.id)).find((o) => o.id === a.org_id);
  if (org && roleAllows(org.role, 'tokens:manage')) return asAdmin(org);
  if (p.user.email === a.human_email) {
    if (lacks(p, 'account:write'))
      return { ok: false, reason: 'forbidden', detail: 'The credential lacks the account:write scope.' };
    if (!(await emailVerified(deps.db, p.user.id))) return { ok: false, reason: 'unverified' };
    return { ok: true, as: 'overseer' };
  }
  return org ? asAdmin(org) : { ok: false, reason: 'not_found' };
}

export type DecideOutcome = { ok: true; agent: AgentRow } | { ok: false; reason: 'not_found' | 'conflict' };

/** Which states each decision applies to. */
const APPLIES: Record<Decision, readonly string[]> = {
  approve: ['unclaimed'],
  deny: ['unclaimed'],
  revoke: ['unclaimed', 'claimed'],
};

/**
 * Carries out a decision already allowed by `mayDecide`, under the agent's row lock, audited as
 * `who`; then drops the key (and, on approval, the human's memberships) from every node's cache.
 * Approving claims the agent for its human without the code.
 */
export async function decide(
  deps: Pick<Deps, 'db' | 'clock' | 'auth' | 'config'>,
  who: Actor,
  agentId: string,
  decision: Decision,
): Promise<DecideOutcome> {
  const { db, clock } = deps;
  const done = await db.transaction().execute(async (trx) => {
    const a = await lockAgent(trx, agentId);
    if (!a) return 'not_found' as const;
    if (!APPLIES[decision].includes(a.status)) return 'conflict' as const;
    if (decision === 'approve') {
      const c = await claimAgent(trx, clock, who, a, {
        via: 'approval',
        scopes: deps.config.agentPlans.free.scopes,
      });
      return { keyHash: c.keyHash, userId: c.userId };
    }
    const keyHash = await closeAgent(trx, clock, who, a, decision === 'deny' ? 'denied' : 'revoked');
    return { keyHash, userId: null };
  });
  if (typeof done === 'string') return { ok: false, reason: done };
  if (done.keyHash) await deps.auth.changed({ token: done.keyHash });
  if (done.userId) await deps.auth.changed({ user: done.userId });
  const agent = await findAgent(db, agentId);
  return agent ? { ok: true, agent } : { ok: false, reason: 'not_found' };
}
