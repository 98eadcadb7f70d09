import type { Transaction } from 'kysely';
import type { Db } from '../db/connection.js';
import type { Database } from '../db/schema.js';
import { type Clock, DAY, MINUTE } from '../lib/clock.js';
import { sha256Hex } from '../lib/secrets.js';

export const SESSION_COOKIE = 'lk_session';
export const SESSION_TTL_MS = 30 * DAY;
/** last_seen_at is written at most this often per session, so reads stay reads. */
export const SESSION_TOUCH_INTERVAL_MS = 5 * MINUTE;

type Executor = Db | Transaction<Database>;

export interface SessionUser {
  sessionId: string;
  userId: string;
  email: string;
  name: string;
  orgId: string | null;
  lastSeenAt: Date;
  expiresAt: Date;
  /** When the person signed in (the session began). */
  createdAt: Date;
  emailVerified: boolean;
}

/** One indexed lookup by hash. Unknown, revoked and expired sessions all return null. */
export async function findSession(db: Db, clock: Clock, token: string): Promise<SessionUser | null> {
  const now = clock.now();
  const row = await db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select([
      'sessions.id as session_id',
      'sessions.org_id',
      'sessions.last_seen_at',
      'sessions.expires_at',
      'sessions.created_at',
      'users.id as user_id',
      'users.email',
      'users.name',
      'users.email_verified_at',
    ])
    .where('sessions.token_hash', '=', sha256Hex(token))
    .where('sessions.revoked_at', 'is', null)
    .where('sessions.expires_at', '>', now)
    .executeTakeFirst();
  if (!row) return null;
  if (now.getTime() - row.last_seen_at.getTime() > SESSION_TOUCH_INTERVAL_MS) {
    await db.updateTable('sessions').set({ last_seen_at: now }).where('id', '=', row.session_id).execute();
  }
  return {
    sessionId: row.session_id,
    userId: row.user_id,
    email: row.email,
    name: row.name,
    orgId: row.org_id,
    lastSeenAt: row.last_seen_at,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    emailVerified: row.email_verified_at !== null,
  };
}

export async function listSessions(db: Db, clock: Clock, userId: string) {
  return db
    .selectFrom('sessions')
    .select(['id', 'ip', 'user_agent', 'created_at', 'last_seen_at', 'expires_at'])
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', clock.now())
    .orderBy('last_seen_at', 'desc')
    .limit(500)
    .execute();
}

/** Revokes one of the user's sessions; returns its hash (for cache invalidation), or null when it is not theirs or already gone. */
export async function revokeSession(
  db: Executor,
  clock: Clock,
  userId: string,
  sessionId: string,
): Promise<string | null> {
  const row = await db
    .updateTable('sessions')
    .set({ revoked_at: clock.now() })
    .where('id', '=', sessionId)
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .returning('token_hash')
    .executeTakeFirst();
  return row?.token_hash ?? null;
}

export async function revokeAllSessions(db: Executor, clock: Clock, userId: string) {
  const res = await db
    .updateTable('sessions')
    .set({ revoked_at: clock.now() })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}
