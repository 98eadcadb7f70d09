import { type Kysely, sql } from 'kysely';

// Frozen in time: imports nothing from the app.

/**
 * Webhook deliveries are enqueued once per statement that writes audit rows, not once per row.
 * The row trigger ran its function for every audit row, and each run first asked whether any
 * endpoint is enabled: a statement that writes the audit rows of a whole group of grants (the
 * client-credentials grants that commit together) asked once per grant. The statement trigger sees
 * the statement's rows as a transition table and asks once; when an endpoint is enabled, one
 * insert enqueues every row's deliveries. Still in the transaction that writes the rows: an event
 * is delivered if and only if its audit row commits.
 */
const FORMAT = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create function webhook_enqueue_rows() returns trigger language plpgsql as $$
    begin
      if not exists (select 1 from webhook_endpoints where enabled) then
        return null;
      end if;
      insert into webhook_deliveries
        (id, endpoint_id, event_id, event_type, payload, status, attempts, next_attempt_at, created_at)
      select gen_random_uuid(), e.id, n.id, n.action,
        jsonb_build_object(
          'type', n.action,
          'timestamp', n.at,
          'data', jsonb_build_object(
            'id', n.id, 'org_id', n.org_id, 'actor', n.actor, 'action', n.action,
            'target', n.target, 'ip', n.ip, 'user_agent', n.user_agent,
            'created_at', n.at, 'data', n.data))::text,
        'pending', 0, n.created_at, n.created_at
      from (
        select r.*, to_char(r.created_at at time zone 'UTC', ${sql.raw(FORMAT)}) as at from new_rows r
      ) n
      join webhook_endpoints e on e.enabled and (e.org_id is null or e.org_id = n.org_id)
      where exists (
        select 1 from jsonb_array_elements_text(e.events) p(pattern)
        where p.pattern = '*' or p.pattern = n.action
          or (right(p.pattern, 2) = '.*' and starts_with(n.action, left(p.pattern, -1))));
      return null;
    end
  $$`.execute(db);
  await sql`drop trigger audit_events_webhooks on audit_events`.execute(db);
  await sql`create trigger audit_events_webhooks after insert on audit_events
    referencing new table as new_rows
    for each statement execute function webhook_enqueue_rows()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger audit_events_webhooks on audit_events`.execute(db);
  await sql`create trigger audit_events_webhooks after insert on audit_events
    for each row execute function webhook_enqueue()`.execute(db);
  await sql`drop function webhook_enqueue_rows()`.execute(db);
}
