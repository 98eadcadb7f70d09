import type { Kysely } from 'kysely';

// Frozen in time: imports nothing from the app.

export async function up(db: Kysely<unknown>): Promise<void> {
  // An org admin's approval of an OAuth client: the org's members skip the consent screen for
  // the client's scopes that are not high-risk. One row per (org, client); gone with either.
  await db.schema
    .createTable('oauth_client_approvals')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('org_id', 'uuid', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
    .addColumn('client_id', 'text', (c) => c.notNull().references('oauth_clients.id').onDelete('cascade'))
    .addColumn('approved_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addUniqueConstraint('oauth_client_approvals_org_client_key', ['org_id', 'client_id'])
    .execute();
  await db.schema
    .createIndex('oauth_client_approvals_client_idx')
    .on('oauth_client_approvals')
    .column('client_id')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('oauth_client_approvals').execute();
}
