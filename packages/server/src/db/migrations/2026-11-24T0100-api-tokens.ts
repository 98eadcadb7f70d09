import { type Kysely, sql } from 'kysely';

// Frozen in time: imports nothing from the app.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('api_tokens')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('pat', 'svc', 'org', 'svc_agent')`))
    .addColumn('token_hash', 'text', (c) => c.notNull())
    .addColumn('prefix', 'text', (c) => c.notNull())
    .addColumn('name', 'text')
    .addColumn('scopes', 'jsonb')
    .addColumn('user_id', 'uuid', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('org_id', 'uuid', (c) => c.references('orgs.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) => c.check(sql`role in ('owner', 'admin', 'member', 'billing')`))
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_by_user', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz')
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('revoked_reason', 'text')
    // A PAT belongs to a person; every other kind is bound to an org and carries a role there.
    .addCheckConstraint(
      'api_tokens_owner_check',
      sql`(kind = 'pat' and user_id is not null and org_id is null) or (kind <> 'pat' and org_id is not null and role is not null)`,
    )
    .execute();
  // Validation is one lookup by hash on live rows.
  await db.schema
    .createIndex('api_tokens_live_hash_idx')
    .on('api_tokens')
    .column('token_hash')
    .unique()
    .where(sql.ref('revoked_at'), 'is', null)
    .execute();
  await db.schema
    .createIndex('api_tokens_user_idx')
    .on('api_tokens')
    .columns(['user_id', 'created_at desc', 'id desc'])
    .execute();
  await db.schema
    .createIndex('api_tokens_org_idx')
    .on('api_tokens')
    .columns(['org_id', 'created_at desc', 'id desc'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('api_tokens').execute();
}
