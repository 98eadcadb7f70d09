import type { Db } from '../db/connection.js';
import { type Clock, MINUTE } from '../lib/clock.js';
import { sha256Hex } from '../lib/secrets.js';
import type { Executor } from '../db/executor.js';

/** last_seen_at is written at most this often per session, so reads stay reads. */
export const SESSION_TOUCH_INTERVAL_MS = 5 * MINUTE;
/** A sign-in waiting for its second factor (or a first enrolment) lasts this long. */
export const PENDING_SESSION_TTL_MS = 10 * MINUTE;
/**
 * Pending sessions' cookie values start with this, so a browser holding one is sent to the
 * second-factor page without a lookup. The prefix grants nothing: the value is still looked up
 * by hash, and only as a pending session.
 */
export const PENDING_SESSION_PREFIX = 'p.';

/** RFC 8176 authentication method reference values Latchkey records. */
export type Amr = 'pwd' | 'otp' | 'hwk' | 'mfa' | 'email' | 'fed';
/** What a pending session waits for. */
export type PendingState = 'second_factor' | 'enrol';

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

/**
 * One indexed lookup by hash. Unknown, revoked, expired and pending sessions all return null: a
 * sign-in waiting for its second factor is no credential.
 */
export async function findSession(db: Db, clock: Clock, token: string): Promise<SessionUser | null> {
  if (token.startsWith(PENDING_SESSION_PREFIX)) return null;
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
    .where('sessions.pending', 'is', null)
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
    .where('pending', 'is', null)
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

export interface PendingSession {
  id: string;
  userId: string;
  email: string;
  name: string;
  orgId: string | null;
  pending: PendingState;
  expiresAt: Date;
}

/** A live pending session by its cookie value, or null. */
export async function findPendingSession(
  db: Db,
  clock: Clock,
  token: string,
): Promise<PendingSession | null> {
  if (!token.startsWith(PENDING_SESSION_PREFIX) || token.length > 100) return null;
  const row = await db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select([
      'sessions.id',
      'sessions.user_id',
      'sessions.org_id',
      'sessions.pending',
      'sessions.expires_at',
      'users.email',
      'users.name',
    ])
    .where('sessions.token_hash', '=', sha256Hex(token))
    .where('sessions.revoked_at', 'is', null)
    .where('sessions.expires_at', '>', clock.now())
    .where('sessions.pending', 'is not', null)
    .executeTakeFirst();
  if (!row || !row.pending) return null;
  return {
    id: row.id,
    userId: row.user_id,
    email: row.email,
    name: row.name,
    orgId: row.org_id,
    pending: row.pending,
    expiresAt: row.expires_at,
  };
}

/** How a session was proven, for ID tokens (`amr`, `auth_time`) and step-up. */
export interface SessionAuthInfo {
  /** RFC 8176 values, in the order they were proven. */
  amr: Amr[];
  /** When the person signed in (OpenID Connect `auth_time`). */
  authTime: Date;
  /** When a second factor was last proven in this session; null when never. */
  mfaAt: Date | null;
  /** The org whose single sign-on opened the session; null when another method did. */
  ssoOrgId: string | null;
}

/**
 * `amr`, `auth_time`, the last second-factor proof and the SSO org of a live, non-pending session;
 * null otherwise.
 */
export async function sessionAuthInfo(
  db: Executor,
  clock: Clock,
  sessionId: string,
): Promise<SessionAuthInfo | null> {
  const row = await db
    .selectFrom('sessions')
    .select(['amr', 'created_at', 'mfa_at', 'sso_org_id'])
    .where('id', '=', sessionId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', clock.now())
    .where('pending', 'is', null)
    .executeTakeFirst();
  if (!row) return null;
  return {
    amr: row.amr.split(' ').filter(Boolean) as Amr[],
    authTime: row.created_at,
    mfaAt: row.mfa_at,
    ssoOrgId: row.sso_org_id,
  };
}

/** Records a second-factor proof (step-up) on a live session: `mfa_at` now, `amr` gains the proof and `mfa`. */
export async function recordSecondFactor(
  db: Executor,
  clock: Clock,
  sessionId: string,
  proof: 'otp' | 'hwk',
): Promise<Date | null> {
  const info = await sessionAuthInfo(db, clock, sessionId);
  if (!info) return null;
  const now = clock.now();
  const amr = [...new Set<Amr>([...info.amr, proof, 'mfa'])].join(' ');
  await db.updateTable('sessions').set({ mfa_at: now, amr }).where('id', '=', sessionId).execute();
  return now;
}
