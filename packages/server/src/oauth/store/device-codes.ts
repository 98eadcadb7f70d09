import { randomInt } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Executor } from '../../db/executor.js';
import type { Database } from '../../db/schema.js';
import { addMs, type Clock, MINUTE } from '../../lib/clock.js';
import { newId, newSecret, sha256Hex } from '../../lib/secrets.js';
import { isUniqueViolation } from '../../db/errors.js';

/** RFC 8628 §6.1: consonants only (no vowels, so no words; no 0/O, 1/I confusion), 8 characters. */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
export const USER_CODE_LENGTH = 8;
export const DEVICE_CODE_TTL_MS = 10 * MINUTE;
export const DEVICE_POLL_INTERVAL_MS = 5_000;
/** RFC 8628 §3.5: each slow_down adds 5 seconds to the interval. */
export const SLOW_DOWN_STEP_MS = 5_000;

export function newUserCode(): string {
  let s = '';
  for (let i = 0; i < USER_CODE_LENGTH; i++) s += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return s;
}

/** `wdjb-mjht`, `WDJBMJHT`, `wdjb mjht` → `WDJBMJHT`; null when it cannot be a user code. */
export function normalizeUserCode(input: string): string | null {
  if (input.length > 40) return null;
  const s = input.toUpperCase().replace(/[\s-]/g, '');
  if (s.length !== USER_CODE_LENGTH) return null;
  for (const c of s) if (!USER_CODE_ALPHABET.includes(c)) return null;
  return s;
}

export const formatUserCode = (code: string) => `${code.slice(0, 4)}-${code.slice(4)}`;

/** Starts a device authorization. Returns the device code (plaintext, once) and the user code. */
export async function createDeviceAuthorization(
  db: Kysely<Database>,
  clock: Clock,
  d: { clientId: string; resource: string; scopes: readonly string[] },
): Promise<{ deviceCode: string; userCode: string; expiresAt: Date }> {
  const now = clock.now();
  const deviceCode = newSecret(32);
  for (let attempt = 0; ; attempt++) {
    const userCode = newUserCode();
    try {
      await db
        .insertInto('oauth_device_codes')
        .values({
          id: newId(),
          device_code_hash: sha256Hex(deviceCode),
          user_code: userCode,
          client_id: d.clientId,
          resource: d.resource,
          scopes: JSON.stringify(d.scopes),
          status: 'pending',
          interval_ms: DEVICE_POLL_INTERVAL_MS,
          created_at: now,
          expires_at: addMs(now, DEVICE_CODE_TTL_MS),
        })
        .execute();
      return { deviceCode, userCode, expiresAt: addMs(now, DEVICE_CODE_TTL_MS) };
    } catch (err) {
      // A pending code already uses this user code (about one in 25 billion): draw another.
      if (!isUniqueViolation(err) || attempt >= 5) throw err;
    }
  }
}

/** A pending, unexpired device authorization by its user code. */
export function findPendingByUserCode(db: Kysely<Database>, clock: Clock, userCode: string) {
  return db
    .selectFrom('oauth_device_codes')
    .selectAll()
    .where('user_code', '=', userCode)
    .where('status', '=', 'pending')
    .where('expires_at', '>', clock.now())
    .executeTakeFirst();
}

/** The person refused a pending authorization; undefined when it was no longer pending. */
export async function denyDeviceCode(db: Executor, id: string, userId: string) {
  return db
    .updateTable('oauth_device_codes')
    .set({ status: 'denied', user_id: userId })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .returning('id')
    .executeTakeFirst();
}

/** The person approved a pending authorization for an org and these scopes; undefined when it was no longer pending. */
export async function approveDeviceCode(
  db: Executor,
  id: string,
  approval: { userId: string; orgId: string; scopes: readonly string[] },
) {
  return db
    .updateTable('oauth_device_codes')
    .set({
      status: 'approved',
      user_id: approval.userId,
      org_id: approval.orgId,
      granted_scopes: JSON.stringify(approval.scopes),
    })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .returning('id')
    .executeTakeFirst();
}

/** Links an approved authorization to the grant its tokens will belong to. */
export async function setDeviceCodeGrant(db: Executor, id: string, grantId: string): Promise<void> {
  await db.updateTable('oauth_device_codes').set({ grant_id: grantId }).where('id', '=', id).execute();
}
