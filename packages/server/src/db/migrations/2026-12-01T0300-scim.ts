import { type Kysely, sql } from 'kysely';

// Frozen in time: imports nothing from the app.

export async function up(db: Kysely<unknown>): Promise<void> {
  // One row per org that has turned SCIM on: its bearer secret (SHA-256 only) and the last sync.
  await db.schema
    .createTable('scim_configs')
    .addColumn('org_id', 'uuid', (c) => c.primaryKey().references('orgs.id').onDelete('cascade'))
    .addColumn('token_hash', 'text')
    .addColumn('token_prefix', 'text')
    .addColumn('token_created_at', 'timestamptz')
    .addColumn('token_created_by', 'text')
    .addColumn('last_sync_at', 'timestamptz')
    .addColumn('last_sync_result', 'text', (c) => c.check(sql`last_sync_result in ('success', 'failure')`))
    .addColumn('last_sync_status', 'integer')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addCheckConstraint('scim_configs_token_check', sql`(token_hash is null) = (token_prefix is null)`)
    .execute();
  await db.schema
    .createIndex('scim_configs_token_hash_key')
    .on('scim_configs')
    .column('token_hash')
    .unique()
    .where(sql.ref('token_hash'), 'is not', null)
    .execute();

  // A person as one org's identity provider sees them. Active = the person holds a membership.
  await db.schema
    .createTable('scim_users')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('org_id', 'uuid', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('external_id', 'text')
    .addColumn('given_name', 'text')
    .addColumn('family_name', 'text')
    .addColumn('formatted_name', 'text')
    .addColumn('display_name', 'text')
    .addColumn('emails', 'jsonb', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addUniqueConstraint('scim_users_org_user_key', ['org_id', 'user_id'])
    .execute();
  await db.schema
    .createIndex('scim_users_org_created_idx')
    .on('scim_users')
    .columns(['org_id', 'created_at', 'id'])
    .execute();
  await db.schema.createIndex('scim_users_user_idx').on('scim_users').column('user_id').execute();

  await db.schema
    .createTable('scim_groups')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('org_id', 'uuid', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('external_id', 'text')
    .addColumn('role', 'text', (c) => c.check(sql`role in ('admin', 'member', 'billing')`))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await sql`create unique index scim_groups_org_name_key on scim_groups (org_id, lower(display_name))`.execute(
    db,
  );
  await db.schema
    .createIndex('scim_groups_org_created_idx')
    .on('scim_groups')
    .columns(['org_id', 'created_at', 'id'])
    .execute();

  await db.schema
    .createTable('scim_group_members')
    .addColumn('group_id', 'uuid', (c) => c.notNull().references('scim_groups.id').onDelete('cascade'))
    .addColumn('scim_user_id', 'uuid', (c) => c.notNull().references('scim_users.id').onDelete('cascade'))
    .addColumn('org_id', 'uuid', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('scim_group_members_pkey', ['group_id', 'scim_user_id'])
    .execute();
  await db.schema
    .createIndex('scim_group_members_user_idx')
    .on('scim_group_members')
    .column('scim_user_id')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('scim_group_members').execute();
  await db.schema.dropTable('scim_groups').execute();
  await db.schema.dropTable('scim_users').execute();
  await db.schema.dropTable('scim_configs').execute();
}
