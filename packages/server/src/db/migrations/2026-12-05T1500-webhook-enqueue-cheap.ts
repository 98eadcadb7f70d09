import { type Kysely, sql } from 'kysely';

// Frozen in time: imports nothing from the app.
//
// Every audit row runs webhook_enqueue(). It formatted the event's timestamp before looking for
// an enabled endpoint, so a server with no webhooks paid for the formatting on every insert (about
// half the cost of an audit row on the embedded database). Now it looks first.

const body = (checkFirst: boolean) =>
  sql.raw(`
    declare
      at text${checkFirst ? '' : ` := to_char(new.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`};
    begin
      if not exists (select 1 from webhook_endpoints where enabled) then
        return null;
      end if;${checkFirst ? `\n      at := to_char(new.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');` : ''}
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
  `);

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create or replace function webhook_enqueue() returns trigger language plpgsql as $$${body(true)}$$`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`create or replace function webhook_enqueue() returns trigger language plpgsql as $$${body(false)}$$`.execute(
    db,
  );
}
