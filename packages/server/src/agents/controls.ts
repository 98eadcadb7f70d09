import type { Transaction } from 'kysely';
import type { Logger } from 'pino';
import { type Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import type { AgentPlans } from '../config/catalogue.js';
import type { Db } from '../db/connection.js';
import type { Executor } from '../db/executor.js';
import type { Database } from '../db/schema.js';
import type { AuthCache } from '../auth/credential-cache.js';
import { DAY, type Clock } from '../lib/clock.js';
import { pruneUsage } from '../tokens/usage.js';
import { revokeTree } from '../tokens/queries.js';
import { every } from '../lib/every.js';
import { pruneBlockedAttempts } from './blocks.js';
import { AGENT_SWEEP_TICK_MS, UNCLAIMED_SWEEP_BATCH } from './limits.js';

/** The system actor of the sweep: the audit log says the server itself did it. */
const SYSTEM: Actor = { actor: 'system:agent-sweep', userId: null, ip: null, userAgent: null };

/** Revokes every live API token bound to `orgId` (and what they minted); returns the revoked rows. */
async function revokeOrgKeys(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  orgId: string,
  reason: string,
) {
  const live = await trx
    .selectFrom('api_tokens')
    .select(['id', 'kind'])
    .where('org_id', '=', orgId)
    .where('revoked_at', 'is', null)
    .execute();
  const revoked = await revokeTree(
    trx,
    clock,
    live.map((t) => t.id),
    reason,
  );
  for (const r of revoked)
    await audit(trx, clock, who, {
      orgId,
      action: 'token.revoked',
      target: `token:${r.id}`,
      data: { prefix: r.prefix, reason },
      subjectUserId: null,
    });
  return revoked;
}

export interface Suspension {
  org_id: string;
  reason: string | null;
  created_by: string;
  created_at: Date;
}

export type SuspendOutcome =
  | { ok: true; suspension: Suspension; revokedHashes: string[] }
  | { ok: false; reason: 'not_agent_org' | 'already_suspended' };

/**
 * Suspends an org an agent signed up: every API token bound to it (the agent's key, org keys,
 * service tokens) is revoked, its live agents end as revoked, and no agent of it can be claimed
 * while the suspension stands. Audited in the caller's transaction.
 */
export async function suspendAgentOrg(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  orgId: string,
  reason: string | null,
): Promise<SuspendOutcome> {
  const agent = await trx.selectFrom('agents').select('id').where('org_id', '=', orgId).executeTakeFirst();
  if (!agent) return { ok: false, reason: 'not_agent_org' };
  const row = await trx
    .insertInto('agent_org_suspensions')
    .values({ org_id: orgId, reason, created_by: who.actor, created_at: clock.now() })
    .onConflict((oc) => oc.column('org_id').doNothing())
    .returningAll()
    .executeTakeFirst();
  if (!row) return { ok: false, reason: 'already_suspended' };
  await trx
    .updateTable('agents')
    .set({ status: 'revoked', closed_at: clock.now(), code_hash: null })
    .where('org_id', '=', orgId)
    .where('status', 'in', ['unclaimed', 'claimed'])
    .execute();
  await audit(trx, clock, who, {
    orgId,
    action: 'agent_org.suspended',
    target: `org:${orgId}`,
    data: { reason },
    subjectUserId: null,
  });
  const revoked = await revokeOrgKeys(trx, clock, who, orgId, 'org_suspended');
  return { ok: true, suspension: row, revokedHashes: revoked.map((r) => r.token_hash) };
}

/** Lifts a suspension (revoked keys stay revoked; the owner mints new ones). False when none. */
export async function liftSuspension(trx: Transaction<Database>, clock: Clock, who: Actor, orgId: string) {
  const row = await trx
    .deleteFrom('agent_org_suspensions')
    .where('org_id', '=', orgId)
    .returning('org_id')
    .executeTakeFirst();
  if (!row) return false;
  await audit(trx, clock, who, {
    orgId,
    action: 'agent_org.unsuspended',
    target: `org:${orgId}`,
    subjectUserId: null,
  });
  return true;
}

export async function listSuspensions(db: Db): Promise<(Suspension & { org_name: string | null })[]> {
  return db
    .selectFrom('agent_org_suspensions')
    .leftJoin('orgs', 'orgs.id', 'agent_org_suspensions.org_id')
    .select([
      'agent_org_suspensions.org_id',
      'agent_org_suspensions.reason',
      'agent_org_suspensions.created_by',
      'agent_org_suspensions.created_at',
      'orgs.name as org_name',
    ])
    .orderBy('agent_org_suspensions.created_at', 'desc')
    .limit(500)
    .execute();
}

export async function isSuspended(db: Executor, orgId: string): Promise<boolean> {
  const row = await db
    .selectFrom('agent_org_suspensions')
    .select('org_id')
    .where('org_id', '=', orgId)
    .executeTakeFirst();
  return !!row;
}

export interface SweepDeps {
  db: Db;
  clock: Clock;
  auth: Pick<AuthCache, 'changed'>;
  plans: AgentPlans;
}

export interface SweepResult {
  /** Orgs deleted because their agent was never claimed in time. */
  deletedOrgs: string[];
  prunedUsage: number;
  prunedAttempts: number;
}

/**
 * Deletes the orgs of agents never claimed within `delete_after_days` of signing up — orgs that
 * still have no member — one transaction each: keys revoked first (audited), then the agent
 * marked revoked and the org deleted (audited; audit rows outlive the org). Then drops usage and
 * refused attempts past their keeping time. At most `UNCLAIMED_SWEEP_BATCH` orgs a run.
 */
export async function sweepAgents(deps: SweepDeps): Promise<SweepResult> {
  const { db, clock } = deps;
  const deletedOrgs: string[] = [];
  const days = deps.plans.unclaimedDeleteAfterDays;
  if (days > 0) {
    const cutoff = new Date(clock.now().getTime() - days * DAY);
    const due = await db
      .selectFrom('agents')
      .select(['agents.id', 'agents.org_id'])
      .where('agents.status', '=', 'unclaimed')
      .where('agents.created_at', '<', cutoff)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('memberships')
              .select('user_id')
              .whereRef('memberships.org_id', '=', 'agents.org_id'),
          ),
        ),
      )
      .orderBy('agents.created_at')
      .limit(UNCLAIMED_SWEEP_BATCH)
      .execute();
    for (const a of due) {
      const hashes = await db.transaction().execute(async (trx) => {
        const locked = await trx
          .selectFrom('agents')
          .select(['id', 'status', 'display_name', 'human_email', 'created_at'])
          .where('id', '=', a.id)
          .forUpdate()
          .executeTakeFirst();
        if (locked?.status !== 'unclaimed' || locked.created_at >= cutoff) return null;
        const members = await trx
          .selectFrom('memberships')
          .select('user_id')
          .where('org_id', '=', a.org_id)
          .executeTakeFirst();
        if (members) return null;
        const revoked = await revokeOrgKeys(trx, clock, SYSTEM, a.org_id, 'agent_unclaimed_expired');
        await audit(trx, clock, SYSTEM, {
          orgId: a.org_id,
          action: 'agent.expired',
          target: `agent:${a.id}`,
          data: { display_name: locked.display_name, human_email: locked.human_email, after_days: days },
          subjectUserId: null,
        });
        const gone = await trx
          .deleteFrom('orgs')
          .where('id', '=', a.org_id)
          .returning(['slug', 'name'])
          .executeTakeFirst();
        await audit(trx, clock, SYSTEM, {
          orgId: a.org_id,
          action: 'org.deleted',
          target: `org:${a.org_id}`,
          data: { slug: gone?.slug ?? null, name: gone?.name ?? null, via: 'agent_unclaimed_expired' },
          subjectUserId: null,
        });
        return revoked.map((r) => r.token_hash);
      });
      if (!hashes) continue;
      for (const h of hashes) await deps.auth.changed({ token: h });
      await deps.auth.changed({ org: a.org_id });
      deletedOrgs.push(a.org_id);
    }
  }
  const prunedUsage = await pruneUsage(db, clock);
  const prunedAttempts = await pruneBlockedAttempts(db, clock);
  return { deletedOrgs, prunedUsage, prunedAttempts };
}

/**
 * Runs `sweepAgents` every `AGENT_SWEEP_TICK_MS` on an unref'd timer, one run at a time; returns
 * the function that stops it.
 */
export function scheduleAgentSweep(deps: SweepDeps & { log: Pick<Logger, 'info' | 'error'> }): () => void {
  return every(
    AGENT_SWEEP_TICK_MS,
    async () => {
      const r = await sweepAgents(deps);
      if (r.deletedOrgs.length > 0)
        deps.log.info({ orgs: r.deletedOrgs.length }, 'deleted the orgs of agents never claimed');
    },
    (err) => deps.log.error({ err }, 'agent sweep failed'),
  );
}
