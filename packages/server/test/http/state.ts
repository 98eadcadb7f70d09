import { sql } from 'kysely';
import type { Db } from '../../src/db/connection.js';

export interface StateFingerprint {
  users: number;
  orgs: number;
  memberships: number;
  invitations: number;
  live_sessions: number;
  magic_links: number;
  /** Live API tokens; -1 while the table does not exist yet. */
  live_api_tokens: number;
  /** md5 over every row's content that a request could change (names, roles, hashes, revocations). */
  digest: string;
}

/**
 * What "nothing changed" means for the account tables: the row counts, plus a digest of their
 * contents, so an update (a renamed org, a new role, a changed password) shows as well as an insert.
 * Session `last_seen_at` is left out: reading with a session touches it by design.
 */
export async function fingerprint(db: Db): Promise<StateFingerprint> {
  const tokens = (await sql<{ t: string | null }>`select to_regclass('api_tokens')::text as t`.execute(db))
    .rows[0]?.t
    ? sql`(select count(*) from api_tokens where revoked_at is null)::int`
    : sql`-1`;
  const r = await sql<Record<keyof StateFingerprint, string | number>>`
    select
      (select count(*) from users)::int as users,
      (select count(*) from orgs)::int as orgs,
      (select count(*) from memberships)::int as memberships,
      (select count(*) from invitations)::int as invitations,
      (select count(*) from sessions where revoked_at is null)::int as live_sessions,
      (select count(*) from magic_links)::int as magic_links,
      ${tokens} as live_api_tokens,
      md5(concat_ws('|',
        (select string_agg(concat_ws(',', id, email, name, password_hash, email_verified_at), ';' order by id) from users),
        (select string_agg(concat_ws(',', id, slug, name), ';' order by id) from orgs),
        (select string_agg(concat_ws(',', org_id, user_id, role), ';' order by org_id, user_id) from memberships),
        (select string_agg(concat_ws(',', id, token_hash, role, accepted_at, revoked_at), ';' order by id) from invitations),
        (select string_agg(concat_ws(',', id, org_id, revoked_at), ';' order by id) from sessions),
        (select string_agg(concat_ws(',', token_hash, consumed_at), ';' order by token_hash) from magic_links)
      )) as digest`.execute(db);
  const row = r.rows[0]!;
  return {
    users: Number(row.users),
    orgs: Number(row.orgs),
    memberships: Number(row.memberships),
    invitations: Number(row.invitations),
    live_sessions: Number(row.live_sessions),
    magic_links: Number(row.magic_links),
    live_api_tokens: Number(row.live_api_tokens),
    digest: String(row.digest),
  };
}
