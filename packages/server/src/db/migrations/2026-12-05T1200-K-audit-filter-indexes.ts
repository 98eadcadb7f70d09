import { type Kysely, sql } from 'kysely';

// Frozen in time: imports nothing from the app.

export async function up(db: Kysely<unknown>): Promise<void> {
  // An action (or action family) filtered by actor too reads one actor's events of one action in
  // time order: a combination that matches few or no rows is then an empty range, not a walk over
  // every event of the action checking its actor.
  await sql`create index audit_events_org_actor_action_time_idx
    on audit_events (org_id, actor, action collate "C", created_at desc, id desc)`.execute(db);
  // Events about one target (a member, an app, a token), newest first.
  await sql`create index audit_events_org_target_time_idx
    on audit_events (org_id, target, created_at desc, id desc) where target is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index audit_events_org_target_time_idx`.execute(db);
  await sql`drop index audit_events_org_actor_action_time_idx`.execute(db);
}
