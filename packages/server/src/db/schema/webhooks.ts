/** Table types of webhooks: endpoints and their deliveries. */
import type { ColumnType } from 'kysely';
import type { Json, Timestamp } from './columns.js';

export interface WebhookEndpointsTable {
  id: string;
  /** null: an instance endpoint (every org's events and the instance's own). */
  org_id: string | null;
  url: string;
  description: ColumnType<string, string | undefined, string>;
  /** JSON array of event types, families (`member.*`) or `*`. */
  events: Json;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  /** The signing secret, sealed with LATCHKEY_SECRET. */
  secret: string;
  failing_since: ColumnType<Date | null, Date | null | undefined, Date | null>;
  disabled_reason: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface WebhookDeliveriesTable {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  /** The exact bytes signed and sent, fixed when the event was enqueued. */
  payload: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Date | null;
  first_attempt_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  lease_until: ColumnType<Date | null, Date | null | undefined, Date | null>;
  last_attempt_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  response_status: ColumnType<number | null, number | null | undefined, number | null>;
  error: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Timestamp;
}
