import type { Kysely } from 'kysely';

// Frozen in time: imports nothing from the app.

export async function up(db: Kysely<unknown>): Promise<void> {
  // Whether SSO creates accounts and memberships at first sign-in (only ever for emails at the
  // org's verified domains). On by default: what orgs had before the setting existed.
  await db.schema
    .alterTable('sso_settings')
    .addColumn('jit_provisioning', 'boolean', (c) => c.notNull().defaultTo(true))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('sso_settings').dropColumn('jit_provisioning').execute();
}
