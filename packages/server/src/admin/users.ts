import { sql } from 'kysely';
import type { Db } from '../db/connection.js';
import type { Clock } from '../lib/clock.js';
import type { Cursor } from '../http/pagination.js';
import { factorsOf } from '../accounts/mfa/factors.js';
import { listUserOrgs } from '../orgs/queries.js';

/** Longest search text an instance admin may send. */
export const USER_SEARCH_MAX = 100;

/** Escapes `%`, `_` and `\` for a LIKE pattern. */
function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export interface UserSummaryRow {
  id: string;
  email: string;
  name: string;
  created_at: Date;
  email_verified_at: Date | null;
  disabled_at: Date | null;
  instance_admin: boolean;
  has_password: boolean;
  last_sign_in_at: Date | null;
}

/** The accounts with what a list shows of each; the last sign-in is the newest session begun. */
function summaries(db: Db) {
  return db.selectFrom('users as u').select([
    'u.id',
    'u.email',
    'u.name',
    'u.created_at',
    'u.email_verified_at',
    'u.disabled_at',
    'u.instance_admin',
    sql<boolean>`u.password_hash is not null`.as('has_password'),
    (eb) =>
      eb
        .selectFrom('sessions as s')
        .select((e) => e.fn.max('s.created_at').as('at'))
        .whereRef('s.user_id', '=', 'u.id')
        .as('last_sign_in_at'),
  ]);
}

function toSummary(
  r: Omit<UserSummaryRow, 'last_sign_in_at'> & { last_sign_in_at: unknown },
): UserSummaryRow {
  return {
    ...r,
    last_sign_in_at: r.last_sign_in_at ? new Date(r.last_sign_in_at as string | Date) : null,
  };
}

/**
 * One page (limit + 1 rows) of the instance's accounts, newest first, whose email or name
 * contains `q` (case-insensitive). The last sign-in is the newest session the account began.
 */
export async function searchUsers(
  db: Db,
  f: { q: string | null; limit: number; after: Cursor | null },
): Promise<UserSummaryRow[]> {
  let query = summaries(db);
  if (f.q) {
    const pattern = `%${likeEscape(f.q.toLowerCase())}%`;
    query = query.where((eb) =>
      eb.or([
        eb(eb.fn('lower', ['u.email']), 'like', pattern),
        eb(eb.fn('lower', ['u.name']), 'like', pattern),
      ]),
    );
  }
  const after = f.after;
  if (after)
    query = query.where((eb) =>
      eb.or([
        eb('u.created_at', '<', after.at),
        eb.and([eb('u.created_at', '=', after.at), eb('u.id', '<', after.id)]),
      ]),
    );
  const rows = await query
    .orderBy('u.created_at', 'desc')
    .orderBy('u.id', 'desc')
    .limit(f.limit + 1)
    .execute();
  return rows.map(toSummary);
}

/** One account as an instance admin sees it: its orgs, live sessions, second factors and last sign-in. */
export async function userDetail(db: Db, clock: Clock, id: string) {
  const found = await summaries(db).where('u.id', '=', id).executeTakeFirst();
  if (!found) return null;
  const row = toSummary(found);
  const orgs = await listUserOrgs(db, id);
  const sessions = await db
    .selectFrom('sessions')
    .select(['id', 'ip', 'user_agent', 'created_at', 'last_seen_at', 'expires_at'])
    .where('user_id', '=', id)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', clock.now())
    .orderBy('last_seen_at', 'desc')
    .limit(100)
    .execute();
  const identities = await db
    .selectFrom('identities')
    .select(['provider', 'created_at'])
    .where('user_id', '=', id)
    .execute();
  const factors = await factorsOf(db, id);
  return { row, orgs, sessions, identities, factors };
}
