import { type Kysely, sql } from 'kysely';

// Frozen in time: imports nothing from the app.

export async function up(db: Kysely<unknown>): Promise<void> {
  // Operators: instance admins manage the sign-up policy and the waitlist.
  await db.schema
    .alterTable('users')
    .addColumn('instance_admin', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  // An install set up before this migration: its first owner (the one /setup made) is the admin.
  await sql`update users set instance_admin = true
    where 'user:' || id::text in (select target from audit_events where action = 'setup.completed')`.execute(
    db,
  );

  // A GitHub or Google account that signs a person in.
  await db.schema
    .createTable('identities')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('provider', 'text', (c) => c.notNull().check(sql`provider in ('github', 'google')`))
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('email', 'text')
    .addColumn('email_verified', 'boolean', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addUniqueConstraint('identities_provider_subject_key', ['provider', 'subject'])
    .addUniqueConstraint('identities_user_provider_key', ['user_id', 'provider'])
    .execute();

  // Instance-wide settings changed at runtime (the sign-up policy), one row per setting.
  await db.schema
    .createTable('instance_settings')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_by', 'text')
    .execute();

  // Sign-up requests made while the policy is `waitlist`, one per email.
  await db.schema
    .createTable('waitlist')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('email', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text')
    .addColumn('via', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('pending', 'approved', 'denied')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('decided_at', 'timestamptz')
    .addColumn('decided_by', 'text')
    .addColumn('token_hash', 'text', (c) => c.unique())
    .addColumn('expires_at', 'timestamptz')
    .addColumn('used_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('waitlist_status_time_idx')
    .on('waitlist')
    .columns(['status', 'created_at desc', 'id desc'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('waitlist').execute();
  await db.schema.dropTable('instance_settings').execute();
  await db.schema.dropTable('identities').execute();
  await db.schema.alterTable('users').dropColumn('instance_admin').execute();
}
