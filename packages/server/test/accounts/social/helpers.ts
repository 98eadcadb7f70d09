import { sql } from 'kysely';
import type { TestServer } from '../../helpers/harness.js';
import { fingerprint, type StateFingerprint } from '../../http/state.js';

/** The account tables' fingerprint plus identities and waitlist: "nothing half-created" compares these. */
export async function state(
  t: TestServer,
): Promise<StateFingerprint & { identities: string; waitlist: number }> {
  const db = t.storage.storage.db;
  const r = await sql<{ identities: string | null; waitlist: number }>`
    select
      (select string_agg(concat_ws(',', provider, subject, user_id), ';' order by id) from identities) as identities,
      (select count(*) from waitlist)::int as waitlist`.execute(db);
  return {
    ...(await fingerprint(db)),
    identities: r.rows[0]!.identities ?? '',
    waitlist: Number(r.rows[0]!.waitlist),
  };
}

export async function userByEmail(t: TestServer, email: string) {
  return t.deps.db
    .selectFrom('users')
    .select(['id', 'email', 'password_hash', 'email_verified_at'])
    .where('email', '=', email)
    .executeTakeFirst();
}

export async function identitiesOf(t: TestServer, userId: string) {
  return t.deps.db
    .selectFrom('identities')
    .select(['provider', 'subject', 'email', 'email_verified'])
    .where('user_id', '=', userId)
    .execute();
}

/** Audit actions about a user (target `user:<id>`), oldest first. */
export async function actionsFor(t: TestServer, userId: string) {
  const rows = await t.deps.db
    .selectFrom('audit_events')
    .select(['action', 'data'])
    .where('target', '=', `user:${userId}`)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map((r) => ({ action: r.action, data: r.data as Record<string, unknown> }));
}
