import { type Kysely, sql } from 'kysely';

// Frozen in time: imports nothing from the app.

/**
 * OpenID Connect and signed tokens:
 * - `signing_keys`: the instance's JWS keys. `state` is `next` (published ahead of use),
 *   `current` (signs; at most one) or `retired` (still published until `expires_at`, when the
 *   last token it signed has expired). The private JWK is sealed with LATCHKEY_SECRET.
 * - `oauth_codes.oidc`: what an OpenID authentication request fixed for its ID tokens (nonce,
 *   auth_time, amr, sid, claims); found again by `family_id` on refresh.
 * - `oauth_clients.oidc`: a relying party's registration (post_logout_redirect_uris,
 *   id_token_signed_response_alg).
 * The OIDC client secrets of SSO connections are sealed by the start-up pass that follows the
 * migrations (it needs the secret, which migrations never see).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('signing_keys')
    .addColumn('kid', 'text', (c) => c.primaryKey())
    .addColumn('alg', 'text', (c) => c.notNull().check(sql`alg in ('ES256', 'RS256')`))
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('next', 'current', 'retired')`))
    .addColumn('public_jwk', 'jsonb', (c) => c.notNull())
    .addColumn('private_jwk', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('activated_at', 'timestamptz')
    .addColumn('retired_at', 'timestamptz')
    .addColumn('expires_at', 'timestamptz')
    .execute();
  // Two nodes never both hold a current key (or a next key) of one algorithm.
  await sql`create unique index signing_keys_one_current_idx on signing_keys (alg) where state = 'current'`.execute(
    db,
  );
  await sql`create unique index signing_keys_one_next_idx on signing_keys (alg) where state = 'next'`.execute(
    db,
  );

  await db.schema.alterTable('oauth_codes').addColumn('oidc', 'jsonb').execute();
  await sql`create index oauth_codes_family_oidc_idx on oauth_codes (family_id) where oidc is not null`.execute(
    db,
  );
  await db.schema.alterTable('oauth_clients').addColumn('oidc', 'jsonb').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('oauth_clients').dropColumn('oidc').execute();
  await db.schema.dropIndex('oauth_codes_family_oidc_idx').execute();
  await db.schema.alterTable('oauth_codes').dropColumn('oidc').execute();
  await db.schema.dropTable('signing_keys').execute();
}
