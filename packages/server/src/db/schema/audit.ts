/** Table type of the audit log. */
import type { ColumnType, Insertable } from 'kysely';
import type { Json, Timestamp } from './columns.js';

export interface AuditEventsTable {
  id: string;
  org_id: string | null;
  actor: string;
  action: string;
  target: string | null;
  ip: string | null;
  user_agent: string | null;
  created_at: Timestamp;
  data: Json;
  /** The account the event is about (its activity log); set by `audit()`. */
  subject_user_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export type NewAuditEvent = Insertable<AuditEventsTable>;
