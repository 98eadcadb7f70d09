import { type Kysely, type Migration, type MigrationResult, Migrator, sql } from 'kysely';
import * as core from './migrations/2026-11-24T0000-core.js';
import * as apiTokens from './migrations/2026-11-24T0100-api-tokens.js';
import * as oauth from './migrations/2026-11-24T0200-oauth.js';
import * as revocationEvents from './migrations/2026-11-24T0300-revocation-events.js';
import * as agents from './migrations/2026-12-01T0100-agents.js';
import * as identitiesSignupPolicy from './migrations/2026-12-01T0200-identities-signup-policy.js';
import * as scim from './migrations/2026-12-01T0300-scim.js';
import * as sso from './migrations/2026-12-01T0400-sso.js';
import * as domainProof from './migrations/2026-12-05T0100-domain-proof.js';
import * as ssoBinding from './migrations/2026-12-05T0200-sso-binding.js';
import * as scimPending from './migrations/2026-12-05T0300-scim-pending.js';
import * as credentialBounds from './migrations/2026-12-05T0500-credential-bounds.js';
import * as emailProof from './migrations/2026-12-05T0600-email-proof.js';
import * as activity from './migrations/2026-12-05T0700-activity.js';
import * as agentControls from './migrations/2026-12-05T0800-h-agent-controls.js';
import * as openidKeys from './migrations/2026-12-05T0900-C-openid-keys.js';
import * as secondFactor from './migrations/2026-12-05T0810-E-second-factor.js';
import * as accountLifecycle from './migrations/2026-12-05T0950-D-account-lifecycle.js';
import * as clientApprovals from './migrations/2026-12-05T1010-A-client-approvals.js';
import * as auditIndexes from './migrations/2026-12-05T1100-F-audit-indexes.js';
import * as auditFilterIndexes from './migrations/2026-12-05T1200-K-audit-filter-indexes.js';
import * as webhooks from './migrations/2026-12-05T1330-C-webhooks.js';
import * as sessionSsoOrg from './migrations/2026-12-05T1400-A-session-sso-org.js';
import * as webhookEnqueueCheap from './migrations/2026-12-05T1500-webhook-enqueue-cheap.js';
import * as tokenGrantKey from './migrations/2026-12-07T0100-token-grant-key.js';
import * as membershipLists from './migrations/2026-12-07T0600-membership-lists.js';
import * as webhookEnqueuePerStatement from './migrations/2026-12-07T2100-webhook-enqueue-per-statement.js';
import * as tokenFillfactor from './migrations/2026-12-07T2300-token-fillfactor.js';

/** Every migration, in order. Names are date-prefixed and never change once shipped. */
const MIGRATIONS: Record<string, Migration> = {
  '2026-11-24T0000-core': core,
  '2026-11-24T0100-api-tokens': apiTokens,
  '2026-11-24T0200-oauth': oauth,
  '2026-11-24T0300-revocation-events': revocationEvents,
  '2026-12-01T0100-agents': agents,
  '2026-12-01T0200-identities-signup-policy': identitiesSignupPolicy,
  '2026-12-01T0300-scim': scim,
  '2026-12-01T0400-sso': sso,
  '2026-12-05T0100-domain-proof': domainProof,
  '2026-12-05T0200-sso-binding': ssoBinding,
  '2026-12-05T0300-scim-pending': scimPending,
  '2026-12-05T0500-credential-bounds': credentialBounds,
  '2026-12-05T0600-email-proof': emailProof,
  '2026-12-05T0700-activity': activity,
  '2026-12-05T0800-h-agent-controls': agentControls,
  '2026-12-05T0810-E-second-factor': secondFactor,
  '2026-12-05T0900-C-openid-keys': openidKeys,
  '2026-12-05T0950-D-account-lifecycle': accountLifecycle,
  '2026-12-05T1010-A-client-approvals': clientApprovals,
  '2026-12-05T1100-F-audit-indexes': auditIndexes,
  '2026-12-05T1200-K-audit-filter-indexes': auditFilterIndexes,
  '2026-12-05T1330-C-webhooks': webhooks,
  '2026-12-05T1400-A-session-sso-org': sessionSsoOrg,
  '2026-12-05T1500-webhook-enqueue-cheap': webhookEnqueueCheap,
  '2026-12-07T0100-token-grant-key': tokenGrantKey,
  '2026-12-07T0600-membership-lists': membershipLists,
  '2026-12-07T2100-webhook-enqueue-per-statement': webhookEnqueuePerStatement,
  '2026-12-07T2300-token-fillfactor': tokenFillfactor,
};

/**
 * An arbitrary constant: the advisory lock key that serialises migrations across nodes. Whoever
 * drops a schema on a shared server takes it too: the migrator scans every schema's catalog, and
 * a schema dropped during that scan fails it.
 */
export const MIGRATION_LOCK_KEY = 748_213_977;

export interface MigrateResult {
  applied: string[];
}

/**
 * Applies pending migrations. Safe to call from several nodes at once: on PostgreSQL a session
 * advisory lock serialises them (and Kysely's migrator takes its own transaction-level lock), so
 * each migration runs exactly once and a second node waits, then finds nothing to do.
 */
export async function migrate(db: Kysely<unknown>, kind: 'pglite' | 'postgres'): Promise<MigrateResult> {
  // The common case — a restart with nothing to do — costs one query instead of the migrator's
  // introspection and locking (a few hundred ms on the embedded engine).
  if (await upToDate(db)) return { applied: [] };
  const run = async () => {
    const migrator = new Migrator({
      db,
      provider: { getMigrations: async () => MIGRATIONS },
      migrationTableName: 'latchkey_migrations',
      migrationLockTableName: 'latchkey_migrations_lock',
      // Named explicitly: without it Kysely takes a `latchkey_migrations` table in ANY schema of the
      // database as ours, and a fresh schema beside a migrated one never gets its own.
      migrationTableSchema: await currentSchema(db),
    });
    const { error, results } = await migrator.migrateToLatest();
    if (error) throw error instanceof Error ? error : new Error(String(error));
    return {
      applied: (results ?? [])
        .filter((r: MigrationResult) => r.status === 'Success')
        .map((r) => r.migrationName),
    };
  };
  // PGlite is a single connection owned by this process: nothing to serialise against.
  if (kind === 'pglite') return run();
  return db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`.execute(conn);
    try {
      return await run();
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.execute(conn);
    }
  });
}

/** True when every known migration is recorded as applied in the current schema. */
async function upToDate(db: Kysely<unknown>): Promise<boolean> {
  try {
    const { rows } = await sql<{ name: string }>`select name from latchkey_migrations`.execute(db);
    const done = new Set(rows.map((r) => r.name));
    return Object.keys(MIGRATIONS).every((n) => done.has(n));
  } catch {
    return false; // no bookkeeping table yet: a fresh database
  }
}

/** The schema unqualified names resolve to (the first existing one on the search_path). */
async function currentSchema(db: Kysely<unknown>): Promise<string> {
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
  const schema = rows[0]?.schema;
  if (!schema)
    throw new Error('the database search_path names no existing schema; create it or fix the search_path');
  return schema;
}

export function migrationNames(): string[] {
  return Object.keys(MIGRATIONS);
}
