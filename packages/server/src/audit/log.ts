import type { Transaction } from 'kysely';
import type { Db } from '../db/connection.js';
import type { Database } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { orderedId } from './ordered-id.js';

/** Who did it and from where; taken from the request once and passed to domain code. */
export interface Actor {
  /** `user:<id>`, `admin-token`, `system`, later `pat:<prefix>` … */
  readonly actor: string;
  readonly ip: string | null;
  readonly userAgent: string | null;
}

export interface AuditEntry {
  orgId: string | null;
  action: string;
  target?: string | null;
  data?: Record<string, unknown>;
}

/** Writes one audit event. Call it with the same transaction as the change it records. */
export async function audit(
  db: Db | Transaction<Database>,
  clock: Clock,
  who: Actor,
  e: AuditEntry,
): Promise<void> {
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
      user_agent: who.userAgent?.slice(0, 512) ?? null,
      created_at: now,
      data: JSON.stringify(e.data ?? {}),
    })
    .execute();
}
