import { type Kysely, sql } from 'kysely';

// Frozen in time: imports nothing from the app.

export async function up(db: Kysely<unknown>): Promise<void> {
  // A domain is proven by a DNS TXT record `_latchkey-challenge.<domain>` holding this token; the
  // daily re-check records when it last looked and when it last saw the record.
  await db.schema
    .alterTable('sso_domains')
    .addColumn('challenge_token', 'text')
    .addColumn('last_checked_at', 'timestamptz')
    .addColumn('record_seen_at', 'timestamptz')
    .execute();
  await sql`update sso_domains set challenge_token = replace(gen_random_uuid()::text, '-', '')`.execute(db);
  await db.schema
    .alterTable('sso_domains')
    .alterColumn('challenge_token', (c) => c.setNotNull())
    .execute();
  // Domains verified before this migration were verified on an owner's word, not proven: they
  // must be verified again with the DNS record.
  await sql`update sso_domains set verified_at = null, verified_by = null`.execute(db);
  await db.schema
    .createIndex('sso_domains_recheck_idx')
    .on('sso_domains')
    .column('last_checked_at')
    .where(sql.ref('verified_at'), 'is not', null)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('sso_domains_recheck_idx').execute();
  await db.schema
    .alterTable('sso_domains')
    .dropColumn('challenge_token')
    .dropColumn('last_checked_at')
    .dropColumn('record_seen_at')
    .execute();
}
