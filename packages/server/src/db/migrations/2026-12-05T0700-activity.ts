import { type Kysely, sql } from 'kysely';

// Frozen in time: imports nothing from the app.

const UUID = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

export async function up(db: Kysely<unknown>): Promise<void> {
  // The account an event is about: it feeds that person's own activity log.
  await db.schema.alterTable('audit_events').addColumn('subject_user_id', 'uuid').execute();
  await db.schema
    .createIndex('audit_events_subject_time_idx')
    .on('audit_events')
    .columns(['subject_user_id', 'created_at desc', 'id desc'])
    .where(sql.ref('subject_user_id'), 'is not', null)
    .execute();

  // Past events, by the rule audit() applies from now on: the account acted on (`user:<id>`
  // target), else, for an account-level event (no org), the person who did it.
  await sql`
    update audit_events set subject_user_id = cast(substr(target, 6) as uuid)
    where target like 'user:%' and substr(target, 6) ~ ${UUID}
  `.execute(db);
  await sql`
    update audit_events set subject_user_id = cast(substr(actor, 6) as uuid)
    where subject_user_id is null and org_id is null
      and actor like 'user:%' and substr(actor, 6) ~ ${UUID}
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('audit_events_subject_time_idx').execute();
  await db.schema.alterTable('audit_events').dropColumn('subject_user_id').execute();
}
