/**
 * TOTP (RFC 6238) second factor: HMAC-SHA1, 6 digits, 30-second steps, a code accepted for the
 * current step and one step either side. A code is accepted at most once: the factor remembers the
 * newest step it accepted and takes only later ones (`UPDATE … WHERE last_step < step`), so a code
 * seen over a shoulder or replayed from a log is refused, and so is any older code.
 *
 * Does not check: rate limits (the callers count failures) or whether the caller may act on the
 * account.
 */
import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';
import type { Executor } from '../../db/executor.js';
import type { Clock } from '../../lib/clock.js';
import { isSealed, type SecretBox } from '../../lib/secret-box.js';

/** Where TOTP secrets live: sealed with the instance's secret box (they must be read back). */
export interface TotpStore {
  db: Executor;
  clock: Clock;
  box: SecretBox;
}

/** Bound to the account, so a sealed secret copied to another account's row does not open. */
const sealContext = (userId: string) => `totp_factors.secret:${userId}`;
/** The secret in clear; null when it does not open here (another account's, or another key's): fail closed. */
function openSecret(box: SecretBox, userId: string, stored: string): string | null {
  if (!isSealed(stored)) return stored;
  try {
    return box.open(stored, sealContext(userId));
  } catch {
    return null;
  }
}

export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Steps either side of now that a code may come from (clock drift between phone and server). */
export const TOTP_WINDOW = 1;
const SECRET_BYTES = 20;

function totpOf(secretBase32: string, label: string, issuer: string): TOTP {
  return new TOTP({
    issuer,
    label,
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    secret: Secret.fromBase32(secretBase32),
  });
}

/** The 30-second step `at` falls in. */
export function stepAt(at: Date): number {
  return Math.floor(at.getTime() / 1000 / TOTP_PERIOD_SECONDS);
}

/** The code an authenticator app shows at `at` (tests and the enrolment check use it). */
export function totpCode(secretBase32: string, at: Date): string {
  return TOTP.generate({
    secret: Secret.fromBase32(secretBase32),
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    timestamp: at.getTime(),
  });
}

/**
 * Starts (or restarts) enrolment: a fresh secret, unconfirmed until `confirmTotp`. Refuses to
 * replace a confirmed factor (returns null): disable it first.
 */
export async function beginTotp(
  { db, clock, box }: TotpStore,
  u: { userId: string; email: string; issuer: string },
): Promise<{ secret: string; uri: string; qrSvg: string } | null> {
  const existing = await db
    .selectFrom('totp_factors')
    .select('confirmed_at')
    .where('user_id', '=', u.userId)
    .executeTakeFirst();
  if (existing?.confirmed_at) return null;
  const secret = new Secret({ size: SECRET_BYTES }).base32;
  const sealed = box.seal(secret, sealContext(u.userId));
  await db
    .insertInto('totp_factors')
    .values({ user_id: u.userId, secret: sealed, created_at: clock.now(), confirmed_at: null, last_step: 0 })
    .onConflict((oc) =>
      oc
        .column('user_id')
        .doUpdateSet({ secret: sealed, created_at: clock.now(), confirmed_at: null, last_step: 0 }),
    )
    .execute();
  const uri = totpOf(secret, u.email, u.issuer).toString();
  const qrSvg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return { secret, uri, qrSvg };
}

/**
 * Checks `code` against the account's secret (confirmed, or for `confirm` the pending one) and
 * consumes its step. Returns false for a wrong, malformed, out-of-window or already-used code.
 */
async function acceptCode(
  { db, clock, box }: TotpStore,
  userId: string,
  code: string,
  which: 'confirmed' | 'unconfirmed',
): Promise<boolean> {
  const token = code.replace(/\s+/g, '');
  if (!/^\d{6}$/.test(token)) return false;
  const row = await db
    .selectFrom('totp_factors')
    .select(['secret', 'confirmed_at'])
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (!row || (which === 'confirmed') !== (row.confirmed_at !== null)) return false;
  const secret = openSecret(box, userId, row.secret);
  if (secret === null) return false;
  const now = clock.now();
  const delta = TOTP.validate({
    token,
    secret: Secret.fromBase32(secret),
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    timestamp: now.getTime(),
    window: TOTP_WINDOW,
  });
  if (delta === null) return false;
  const step = stepAt(now) + delta;
  const used = await db
    .updateTable('totp_factors')
    .set({
      last_step: step,
      ...(which === 'unconfirmed' ? { confirmed_at: now } : {}),
    })
    .where('user_id', '=', userId)
    .where('last_step', '<', step)
    .where('confirmed_at', which === 'confirmed' ? 'is not' : 'is', null)
    .returning('user_id')
    .executeTakeFirst();
  return used !== undefined;
}

/** Proves a code from the confirmed factor (sign-in, step-up). */
export function verifyTotp(store: TotpStore, userId: string, code: string): Promise<boolean> {
  return acceptCode(store, userId, code, 'confirmed');
}

/** Confirms enrolment with a code from the new secret; the factor is on from then. */
export function confirmTotp(store: TotpStore, userId: string, code: string): Promise<boolean> {
  return acceptCode(store, userId, code, 'unconfirmed');
}

/** Removes the TOTP factor; returns whether there was a confirmed one. */
export async function removeTotp(db: Executor, userId: string): Promise<boolean> {
  const row = await db
    .deleteFrom('totp_factors')
    .where('user_id', '=', userId)
    .returning('confirmed_at')
    .executeTakeFirst();
  return row?.confirmed_at != null;
}

/** The issuer an authenticator app shows next to the account: the instance's host. */
export function issuerOf(publicUrl: string): string {
  return `Latchkey (${new URL(publicUrl).host})`;
}
