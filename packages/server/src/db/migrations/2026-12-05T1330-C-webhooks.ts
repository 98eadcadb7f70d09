import { type Kysely, sql } from 'kysely';

// Frozen in time: imports nothing from the app.

/**
 * Webhooks:
 * - `webhook_endpoints`: where an org (or, with `org_id` null, the instance) wants events sent.
 *   `events` is a JSON array of event types, families (`member.*`) or `*`; `secret` is the signing
 *   secret sealed with LATCHKEY_SECRET; `failing_since` is the first failed attempt since the last
 *   success (an endpoint failing for the whole retry window is disabled, `disabled_reason`).
 * - `webhook_deliveries`: one event for one endpoint, with its signed payload fixed at enqueue time.
 *   `pending` rows are due at `next_attempt_at`; a node claims one by setting `lease_until`, so
 *   several nodes never send the same delivery at once.
 * - A trigger on `audit_events` enqueues a delivery for every enabled endpoint whose events match,
 *   in the transaction that writes the audit row: whoever writes an audit row, however it is
 *   written, its event is delivered if and only if it commits.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('webhook_endpoints')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('org_id', 'uuid', (c) => c.references('orgs.id').onDelete('cascade'))
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('events', 'jsonb', (c) => c.notNull())
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('secret', 'text', (c) => c.notNull())
    .addColumn('failing_since', 'timestamptz')
    .addColumn('disabled_reason', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await sql`create index webhook_endpoints_org_idx on webhook_endpoints (org_id, created_at)`.execute(db);
  await sql`create index webhook_endpoints_enabled_idx on webhook_endpoints (org_id) where enabled`.execute(
    db,
  );

  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('endpoint_id', 'uuid', (c) =>
      c.notNull().references('webhook_endpoints.id').onDelete('cascade'),
    )
    .addColumn('event_id', 'uuid', (c) => c.notNull())
    .addColumn('event_type', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('pending', 'delivered', 'failed')`))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz')
    .addColumn('first_attempt_at', 'timestamptz')
    .addColumn('lease_until', 'timestamptz')
    .addColumn('last_attempt_at', 'timestamptz')
    .addColumn('response_status', 'integer')
    .addColumn('error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await sql`create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at)
    where status = 'pending'`.execute(db);
  await sql`create index webhook_deliveries_endpoint_idx
    on webhook_deliveries (endpoint_id, created_at desc, id desc)`.execute(db);

  await sql`create function webhook_enqueue() returns trigger language plpgsql as $$
    declare
      at text := to_char(new.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
    begin
      if not exists (select 1 from webhook_endpoints where enabled) then
        return null;
      end if;
      insert into webhook_deliveries
        (id, endpoint_id, event_id, event_type, payload, status, attempts, next_attempt_at, created_at)
      select gen_random_uuid(), e.id, new.id, new.action,
        jsonb_build_object(
          'type', new.action,
          'timestamp', at,
          'data', jsonb_build_object(
            'id', new.id, 'org_id', new.org_id, 'actor', new.actor, 'action', new.action,
            'target', new.target, 'ip', new.ip, 'user_agent', new.user_agent,
            'created_at', at, 'data', new.data))::text,
        'pending', 0, new.created_at, new.created_at
      from webhook_endpoints e
      where e.enabled
        and (e.org_id is null or e.org_id = new.org_id)
        and exists (
          select 1 from jsonb_array_elements_text(e.events) p(pattern)
          where p.pattern = '*' or p.pattern = new.action
            or (right(p.pattern, 2) = '.*' and starts_with(new.action, left(p.pattern, -1))));
      return null;
    end
  $$`.execute(db);
  await sql`create trigger audit_events_webhooks after insert on audit_events
    for each row execute function webhook_enqueue()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger audit_events_webhooks on audit_events`.execute(db);
  await sql`drop function webhook_enqueue()`.execute(db);
  await db.schema.dropTable('webhook_deliveries').execute();
  await db.schema.dropTable('webhook_endpoints').execute();
}
