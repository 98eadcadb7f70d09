import { type Kysely, sql } from 'kysely';

// Frozen in time: imports nothing from the app.

export async function up(db: Kysely<unknown>): Promise<void> {
  // A self-registered AI agent: its org (created with it, ownerless until a human claims it), its
  // key (an `svc_agent` row in api_tokens), the human overseer's email and the emailed code.
  await db.schema
    .createTable('agents')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('org_id', 'uuid', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
    .addColumn('token_id', 'uuid', (c) => c.notNull().references('api_tokens.id').onDelete('cascade'))
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('note_to_human', 'text')
    .addColumn('harness', 'text')
    .addColumn('human_email', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('unclaimed', 'claimed', 'denied', 'revoked')`),
    )
    .addColumn('code_hash', 'text')
    .addColumn('code_expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('failed_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('claimed_by', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('claimed_at', 'timestamptz')
    .addColumn('closed_at', 'timestamptz')
    .execute();
  // Introspection and the agent's own calls find the agent by its key.
  await db.schema.createIndex('agents_token_id_key').on('agents').column('token_id').unique().execute();
  await db.schema
    .createIndex('agents_org_idx')
    .on('agents')
    .columns(['org_id', 'created_at desc', 'id desc'])
    .execute();
  // The cap on pending signups per overseer counts these.
  await db.schema
    .createIndex('agents_pending_email_idx')
    .on('agents')
    .columns(['human_email', 'code_expires_at'])
    .where(sql.ref('status'), '=', 'unclaimed')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('agents').execute();
}
