import type { Transaction } from 'kysely';
import { type Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import type { Database } from '../db/schema.js';
import { addMs, type Clock } from '../lib/clock.js';
import { newId } from '../lib/secrets.js';
import { mintToken } from '../tokens/format.js';
import { insertToken } from '../tokens/queries.js';
import { codeHash, newCode } from './code.js';
import { CODE_TTL_MS, PENDING_SIGNUPS_PER_EMAIL } from './limits.js';
import { insertAgent, insertOwnerlessOrg, lockHumanEmail, pendingForEmail } from './queries.js';

/** How the audit log names an agent: its own steps are recorded with this actor. */
export function agentActor(who: Actor, agentId: string): Actor {
  return { ...who, actor: `agent:${agentId}` };
}

/** The role an agent's key holds in its org: the least one; its scopes narrow it further. */
export const AGENT_KEY_ROLE = 'member';

export interface SignupRequest {
  /** Normalised and checked by the caller. */
  humanEmail: string;
  displayName: string;
  note: string | null;
  harness: string | null;
  /** The scopes the key carries while unclaimed. */
  scopes: readonly string[];
  tokenPrefix: string;
}

export type SignupOutcome =
  | {
      ok: true;
      agentId: string;
      orgId: string;
      /** Plaintext, returned once. */
      apiKey: string;
      /** Plaintext, for the email only. */
      code: string;
    }
  | { ok: false; reason: 'too_many_pending'; retryAfterSeconds: number };

/**
 * Registers an agent: an org with no members yet, an `svc_agent` key bound to it (hashed at rest)
 * and the agent with its hashed code — all audited as the agent, in the caller's transaction.
 * Refused while `PENDING_SIGNUPS_PER_EMAIL` signups already await the same human.
 */
export async function startSignup(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  s: SignupRequest,
): Promise<SignupOutcome> {
  const now = clock.now();
  await lockHumanEmail(trx, s.humanEmail);
  const pending = await pendingForEmail(trx, s.humanEmail, now);
  if (pending.count >= PENDING_SIGNUPS_PER_EMAIL) {
    const until = pending.firstExpiry?.getTime() ?? now.getTime() + CODE_TTL_MS;
    return {
      ok: false,
      reason: 'too_many_pending',
      retryAfterSeconds: Math.max(1, Math.ceil((until - now.getTime()) / 1000)),
    };
  }
  const agentId = newId();
  const actor = agentActor(who, agentId);
  const org = await insertOwnerlessOrg(trx, clock, s.displayName);
  const key = mintToken('svc_agent', s.tokenPrefix);
  const token = await insertToken(trx, clock, {
    kind: 'svc_agent',
    hash: key.hash,
    prefix: key.display,
    name: s.displayName,
    scopes: [...s.scopes],
    userId: null,
    orgId: org.id,
    role: AGENT_KEY_ROLE,
    createdBy: actor.actor,
    createdByUser: null,
    expiresAt: null,
  });
  const code = newCode();
  await insertAgent(trx, {
    id: agentId,
    orgId: org.id,
    tokenId: token.id,
    displayName: s.displayName,
    note: s.note,
    harness: s.harness,
    humanEmail: s.humanEmail,
    codeHash: codeHash(agentId, code),
    codeExpiresAt: addMs(now, CODE_TTL_MS),
    createdAt: now,
  });
  await audit(trx, clock, actor, {
    orgId: org.id,
    action: 'org.created',
    target: `org:${org.id}`,
    data: { slug: org.slug, via: 'agent_signup' },
  });
  await audit(trx, clock, actor, {
    orgId: org.id,
    action: 'agent.signup',
    target: `agent:${agentId}`,
    data: { display_name: s.displayName, harness: s.harness, human_email: s.humanEmail },
  });
  await audit(trx, clock, actor, {
    orgId: org.id,
    action: 'token.created',
    target: `token:${token.id}`,
    data: { kind: 'svc_agent', prefix: key.display, name: s.displayName, scopes: [...s.scopes] },
  });
  return { ok: true, agentId, orgId: org.id, apiKey: key.token, code };
}
