import { type Kysely, sql } from 'kysely';

// Frozen in time: imports nothing from the app.

export async function up(db: Kysely<unknown>): Promise<void> {
  // Operator blocks on agent signup: a client address range, an overseer's email domain, or an org.
  await db.schema
    .createTable('agent_blocks')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('ip', 'email_domain', 'org')`))
    // Normalised: a CIDR range (`203.0.113.0/24`, `2001:db8::/32`), a lowercase domain, an org id.
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addUniqueConstraint('agent_blocks_kind_value_key', ['kind', 'value'])
    .execute();

  // Signups a block refused, for operators to review (kept 90 days).
  await db.schema
    .createTable('agent_blocked_attempts')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('block_id', 'uuid', (c) => c.references('agent_blocks.id').onDelete('set null'))
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('ip', 'text', (c) => c.notNull())
    .addColumn('email_domain', 'text', (c) => c.notNull())
    .addColumn('org_id', 'uuid')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('agent_blocked_attempts_time_idx')
    .on('agent_blocked_attempts')
    .columns(['created_at desc', 'id desc'])
    .execute();

  // Agent orgs an operator suspended: their keys were revoked; no new agent key may be claimed.
  await db.schema
    .createTable('agent_org_suspensions')
    .addColumn('org_id', 'uuid', (c) => c.primaryKey().references('orgs.id').onDelete('cascade'))
    .addColumn('reason', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();

  // Requests per API token per UTC day, written in batches off the request path (kept 90 days).
  await db.schema
    .createTable('api_token_usage')
    .addColumn('token_id', 'uuid', (c) => c.notNull().references('api_tokens.id').onDelete('cascade'))
    .addColumn('day', 'date', (c) => c.notNull())
    .addColumn('requests', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('api_token_usage_pkey', ['token_id', 'day'])
    .execute();
  await db.schema.createIndex('api_token_usage_day_idx').on('api_token_usage').column('day').execute();

  // The unclaimed-org sweep finds old unclaimed agents by creation time.
  await db.schema
    .createIndex('agents_unclaimed_created_idx')
    .on('agents')
    .column('created_at')
    .where(sql.ref('status'), '=', 'unclaimed')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('agents_unclaimed_created_idx').execute();
  await db.schema.dropTable('api_token_usage').execute();
  await db.schema.dropTable('agent_org_suspensions').execute();
  await db.schema.dropTable('agent_blocked_attempts').execute();
  await db.schema.dropTable('agent_blocks').execute();
}
