import { type Kysely, sql } from 'kysely';

// Frozen in time: imports nothing from the app.

/**
 * Room on each page of `oauth_tokens` for the one update most of its rows get: a refresh token's
 * rotation (`rotated_at`), a revocation (`revoked_at`). Neither column is indexed, so the new
 * version of the row can stay on its page as a heap-only tuple, and none of the table's five
 * indexes is written; on a full page the new version goes elsewhere and every index gets an entry
 * for it. Applies to pages written from now on.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table oauth_tokens set (fillfactor = 75)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table oauth_tokens reset (fillfactor)`.execute(db);
}
