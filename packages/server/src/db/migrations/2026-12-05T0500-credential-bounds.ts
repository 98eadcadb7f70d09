import type { Kysely } from 'kysely';

// Frozen in time: imports nothing from the app.

/**
 * A token minted by another credential records its parent, so that it can be held to the
 * parent's bounds and revoked with it: `parent_token_id` (a Latchkey API token) or
 * `parent_oauth_token_id` (an OAuth access token).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('api_tokens')
    .addColumn('parent_token_id', 'uuid', (c) => c.references('api_tokens.id').onDelete('set null'))
    .execute();
  await db.schema
    .alterTable('api_tokens')
    .addColumn('parent_oauth_token_id', 'uuid', (c) => c.references('oauth_tokens.id').onDelete('set null'))
    .execute();
  await db.schema.createIndex('api_tokens_parent_idx').on('api_tokens').column('parent_token_id').execute();
  await db.schema
    .createIndex('api_tokens_parent_oauth_idx')
    .on('api_tokens')
    .column('parent_oauth_token_id')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('api_tokens_parent_oauth_idx').execute();
  await db.schema.dropIndex('api_tokens_parent_idx').execute();
  await db.schema.alterTable('api_tokens').dropColumn('parent_oauth_token_id').execute();
  await db.schema.alterTable('api_tokens').dropColumn('parent_token_id').execute();
}
