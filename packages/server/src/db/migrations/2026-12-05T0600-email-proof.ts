import { type Kysely, sql } from 'kysely';

// Frozen in time: imports nothing from the app.

/**
 * Accounts prove their address, and sign-in surfaces resist takeover:
 * - `email_verifications`: single-use links sent at password sign-up (hashed, 24 h);
 * - `magic_links.browser_hash`: the browser that asked for a sign-in link (hash of its cookie),
 *   so the link opened elsewhere asks before it signs in;
 * - `trusted_devices`: browsers that signed in to an account before (hash of a long-lived
 *   cookie), exempt from the account-wide failed sign-in limit.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('email_verifications')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('consumed_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('email_verifications_user_idx')
    .on('email_verifications')
    .column('user_id')
    .execute();
  await db.schema
    .createIndex('email_verifications_expires_at_idx')
    .on('email_verifications')
    .column('expires_at')
    .execute();

  await db.schema.alterTable('magic_links').addColumn('browser_hash', 'text').execute();

  await db.schema
    .createTable('trusted_devices')
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('device_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_used_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('trusted_devices_pkey', ['user_id', 'device_hash'])
    .execute();
  await sql`create index trusted_devices_expires_at_idx on trusted_devices (expires_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('trusted_devices').execute();
  await db.schema.alterTable('magic_links').dropColumn('browser_hash').execute();
  await db.schema.dropTable('email_verifications').execute();
}
