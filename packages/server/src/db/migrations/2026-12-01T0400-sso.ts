import { type Kysely, sql } from 'kysely';

// Frozen in time: imports nothing from the app.

export async function up(db: Kysely<unknown>): Promise<void> {
  // An org's SSO settings; no row means the defaults (enforced once a connection is enabled).
  await db.schema
    .createTable('sso_settings')
    .addColumn('org_id', 'uuid', (c) => c.primaryKey().references('orgs.id').onDelete('cascade'))
    .addColumn('sso_enforced', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('status_page_url', 'text')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();

  // One identity provider an org signs its people in with: OIDC (by discovery) or SAML 2.0.
  await db.schema
    .createTable('sso_connections')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('org_id', 'uuid', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('oidc', 'saml')`))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('default_role', 'text', (c) =>
      c.notNull().check(sql`default_role in ('admin', 'member', 'billing')`),
    )
    .addColumn('oidc_issuer', 'text')
    .addColumn('oidc_client_id', 'text')
    .addColumn('oidc_client_secret', 'text')
    .addColumn('saml_metadata_xml', 'text')
    .addColumn('saml_metadata_url', 'text')
    .addColumn('saml_idp_entity_id', 'text')
    .addColumn('saml_idp_sso_url', 'text')
    .addColumn('saml_idp_certs', 'text')
    .addColumn('tested_at', 'timestamptz')
    .addColumn('test_result', 'text', (c) => c.check(sql`test_result in ('pass', 'fail')`))
    .addColumn('test_detail', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('sso_connections_org_idx')
    .on('sso_connections')
    .columns(['org_id', 'created_at'])
    .execute();

  // Email domains an org claims. A verified domain belongs to one org only.
  await db.schema
    .createTable('sso_domains')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('org_id', 'uuid', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
    .addColumn('domain', 'text', (c) => c.notNull())
    .addColumn('verified_at', 'timestamptz')
    .addColumn('verified_by', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addUniqueConstraint('sso_domains_org_domain_key', ['org_id', 'domain'])
    .execute();
  await db.schema
    .createIndex('sso_domains_verified_key')
    .on('sso_domains')
    .column('domain')
    .unique()
    .where(sql.ref('verified_at'), 'is not', null)
    .execute();

  // Who a connection's subject (OIDC `sub`, SAML NameID) is in Latchkey.
  await db.schema
    .createTable('sso_identities')
    .addColumn('connection_id', 'uuid', (c) =>
      c.notNull().references('sso_connections.id').onDelete('cascade'),
    )
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('sso_identities_pkey', ['connection_id', 'subject'])
    .execute();
  await db.schema.createIndex('sso_identities_user_idx').on('sso_identities').column('user_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('sso_identities').execute();
  await db.schema.dropTable('sso_domains').execute();
  await db.schema.dropTable('sso_connections').execute();
  await db.schema.dropTable('sso_settings').execute();
}
