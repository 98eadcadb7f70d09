import type { Kysely } from 'kysely';

// Frozen in time: imports nothing from the app.

export async function up(db: Kysely<unknown>): Promise<void> {
  // The org whose single sign-on opened the session (null for any other way of signing in): an
  // org that enforces SSO admits by invitation only a person signed in through its own IdP.
  await db.schema
    .alterTable('sessions')
    .addColumn('sso_org_id', 'uuid', (c) => c.references('orgs.id').onDelete('set null'))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('sessions').dropColumn('sso_org_id').execute();
}
