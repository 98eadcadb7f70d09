import type { Transaction } from 'kysely';
import { createAccount, findUserByEmail } from '../accounts/users.js';
import { type Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import type { Database } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { revokeToken } from '../tokens/queries.js';
import { codeMatches } from './code.js';
import { MAX_CODE_ATTEMPTS } from './limits.js';
import { countFailure, lockAgent, markClaimed, markClosed, setKeyScopes } from './queries.js';
import { agentActor } from './signup.js';

type LockedAgent = NonNullable<Awaited<ReturnType<typeof lockAgent>>>;

export interface Claimed {
  userId: string;
  /** The key's hash, to drop it from every credential cache. */
  keyHash: string | null;
}

/**
 * Makes the agent's human its org's owner — creating their account (no password; they sign in by
 * magic link) when there is none — gives the key the free plan's scopes and consumes the code.
 * The caller holds the agent's row lock and has checked it is unclaimed.
 */
export async function claimAgent(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  a: LockedAgent,
  c: { via: 'code' | 'approval'; scopes: readonly string[] },
): Promise<Claimed> {
  let user = await findUserByEmail(trx, a.human_email);
  const created = !user;
  if (!user) {
    const acct = await createAccount(trx, clock, who, {
      email: a.human_email,
      name: a.human_email.split('@')[0]!,
      passwordHash: null,
      // The code went only to this address, and the approve link needs a proven sign-in to it.
      emailVerified: true,
      via: 'agent_overseer',
    });
    user = { ...acct.user, password_hash: null, email_verified_at: null };
  }
  await trx
    .insertInto('memberships')
    .values({ org_id: a.org_id, user_id: user.id, role: 'owner', created_at: clock.now() })
    .onConflict((oc) => oc.columns(['org_id', 'user_id']).doUpdateSet({ role: 'owner' }))
    .execute();
  await markClaimed(trx, clock, a.id, user.id);
  const key = await setKeyScopes(trx, a.token_id, c.scopes);
  await audit(trx, clock, who, {
    orgId: a.org_id,
    action: 'agent.claimed',
    target: `agent:${a.id}`,
    data: { via: c.via, user_id: user.id, account_created: created, role: 'owner', scopes: [...c.scopes] },
  });
  return { userId: user.id, keyHash: key?.token_hash ?? null };
}

export type VerifyOutcome =
  | { ok: true; claimed: Claimed }
  | { ok: false; reason: 'wrong_code'; attemptsRemaining: number }
  | { ok: false; reason: 'locked' | 'expired' | 'already_claimed' | 'closed' };

/**
 * Checks the code the agent presents, under the agent's row lock so concurrent guesses are counted
 * one by one. The lock-out and the expiry are checked first: past them even the right code fails.
 * Every refusal is audited, and a wrong code is counted, in the caller's transaction — so the
 * caller commits refusals too.
 */
export async function verifyCode(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  v: { agentId: string; code: string; scopes: readonly string[] },
): Promise<VerifyOutcome> {
  const a = await lockAgent(trx, v.agentId);
  if (!a || a.status === 'denied' || a.status === 'revoked') return { ok: false, reason: 'closed' };
  if (a.status === 'claimed') return { ok: false, reason: 'already_claimed' };
  const actor = agentActor(who, a.id);
  const refuse = async (reason: 'locked' | 'expired' | 'wrong_code', remaining: number) =>
    audit(trx, clock, actor, {
      orgId: a.org_id,
      action: 'agent.verification_failed',
      target: `agent:${a.id}`,
      data: { reason, attempts_remaining: remaining },
    });
  if (a.failed_attempts >= MAX_CODE_ATTEMPTS) {
    await refuse('locked', 0);
    return { ok: false, reason: 'locked' };
  }
  if (clock.now().getTime() > a.code_expires_at.getTime()) {
    await refuse('expired', MAX_CODE_ATTEMPTS - a.failed_attempts);
    return { ok: false, reason: 'expired' };
  }
  if (!codeMatches(a.id, v.code, a.code_hash)) {
    const remaining = Math.max(0, MAX_CODE_ATTEMPTS - (await countFailure(trx, a.id)));
    await refuse('wrong_code', remaining);
    return { ok: false, reason: 'wrong_code', attemptsRemaining: remaining };
  }
  return { ok: true, claimed: await claimAgent(trx, clock, actor, a, { via: 'code', scopes: v.scopes }) };
}

/**
 * Denies (while unclaimed) or revokes (unclaimed or claimed) an agent: its key is revoked at once.
 * The caller holds the row lock. Returns the key's hash, or null when nothing changed.
 */
export async function closeAgent(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  a: LockedAgent,
  status: 'denied' | 'revoked',
): Promise<string | null> {
  const from = status === 'denied' ? (['unclaimed'] as const) : (['unclaimed', 'claimed'] as const);
  if (!(await markClosed(trx, clock, a.id, status, from))) return null;
  const key = await revokeToken(trx, clock, a.token_id, `agent_${status}`);
  await audit(trx, clock, who, {
    orgId: a.org_id,
    action: status === 'denied' ? 'agent.denied' : 'agent.revoked',
    target: `agent:${a.id}`,
    data: { display_name: a.display_name, human_email: a.human_email },
  });
  if (key)
    await audit(trx, clock, who, {
      orgId: a.org_id,
      action: 'token.revoked',
      target: `token:${a.token_id}`,
      data: { prefix: key.prefix, kind: 'svc_agent' },
    });
  return key?.token_hash ?? null;
}
