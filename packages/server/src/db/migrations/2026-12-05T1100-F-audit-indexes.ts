import { type Kysely, sql } from 'kysely';

// Frozen in time: imports nothing from the app.

export async function up(db: Kysely<unknown>): Promise<void> {
  // Filtered audit listings read one org's events of one action (or one actor) newest first:
  // each filter walks its own index in order and stops at the page's end, however long the log.
  // Actions are indexed bytewise (collation "C") so an action family ("member.*") is one range.
  await sql`create index audit_events_org_action_time_idx
    on audit_events (org_id, action collate "C", created_at desc, id desc)`.execute(db);
  await sql`create index audit_events_org_actor_time_idx
    on audit_events (org_id, actor, created_at desc, id desc)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index audit_events_org_actor_time_idx`.execute(db);
  await sql`drop index audit_events_org_action_time_idx`.execute(db);
}
