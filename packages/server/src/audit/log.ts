import type { Executor } from '../db/executor.js';
import type { Actor } from '../auth/principal.js';
import type { Clock } from '../lib/clock.js';
import { orderedId } from './ordered-id.js';

export interface AuditEntry {
  orgId: string | null;
  action: string;
  target?: string | null;
  data?: Record<string, unknown>;
  /**
   * The account the event is about, for that person's activity log. Derived when absent (see
   * `subjectOf`); `null` says explicitly that it concerns no one account.
   */
  subjectUserId?: string | null;
}

const USER_REF = /^user:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/**
 * Whose activity log an event belongs to: the explicit subject; else the account acted on (a
 * `user:<id>` target — an admin's change to a member shows on the member's log); else, for an
 * account-level event (no org: sign-ins, sessions, personal tokens), the person who acted (a
 * `user:<id>` actor, or the person behind the personal token or OAuth token that acted).
 * Org-level events a person did (an app created, a domain added) belong to the org's log only.
 */
export function subjectOf(who: Actor, e: AuditEntry): string | null {
  if (e.subjectUserId !== undefined) return e.subjectUserId;
  const target = e.target ? USER_REF.exec(e.target) : null;
  if (target) return target[1]!.toLowerCase();
  if (e.orgId !== null) return null;
  return USER_REF.exec(who.actor)?.[1]!.toLowerCase() ?? who.userId ?? null;
}

/** Writes one audit event. Call it with the same transaction as the change it records. */
export async function audit(db: Executor, clock: Clock, who: Actor, e: AuditEntry): Promise<void> {
  const now = clock.now();
  await db
    .insertInto('audit_events')
    .values({
      id: orderedId(now.getTime()),
      org_id: e.orgId,
      actor: who.actor,
      action: e.action,
      target: e.target ?? null,
      ip: who.ip,
      user_agent: userAgentOf(who),
      created_at: now,
      data: JSON.stringify(e.data ?? {}),
      subject_user_id: subjectOf(who, e),
    })
    .execute();
}

/** The user agent as stored: at most 512 characters. */
const userAgentOf = (who: Actor) => who.userAgent?.slice(0, 512) ?? null;

/**
 * An org event's columns besides its org and detail, as the token endpoint's rows statements read
 * them from each row of their JSON array (`oauth/store/tokens.ts`). Org events only: they belong to
 * no person's activity log.
 */
export interface AuditColumns {
  audit_id: string;
  actor: string;
  ip: string | null;
  user_agent: string | null;
  now: Date;
  action: string;
  target: string;
}

/** The columns of an event `who` caused at `now`. */
export function auditColumns(who: Actor, now: Date, e: { action: string; target: string }): AuditColumns {
  return {
    audit_id: orderedId(now.getTime()),
    actor: who.actor,
    ip: who.ip,
    user_agent: userAgentOf(who),
    now,
    action: e.action,
    target: e.target,
  };
}
