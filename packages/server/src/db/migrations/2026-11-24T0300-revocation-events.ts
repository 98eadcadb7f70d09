import { type Kysely, sql } from 'kysely';

// Frozen in time: imports nothing from the app.

export async function up(db: Kysely<unknown>): Promise<void> {
  // An append-only log of credential changes, read by resource servers through
  // GET /api/v1/revocations/stream (resumable by id).
  await db.schema
    .createTable('revocation_events')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('token', 'user', 'org')`))
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('revocation_events').execute();
}
