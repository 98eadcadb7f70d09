import { addMs, type Clock, DAY } from '../lib/clock.js';
import { newSecret, sha256Hex } from '../lib/secrets.js';
import type { Executor } from '../db/executor.js';

/** The cookie (base name) a browser keeps once it has signed in: see `signinFailuresPerAccount`. */
export const DEVICE_COOKIE = 'lk_device';
/** How long a browser stays known to an account after its last sign-in. */
export const DEVICE_TTL_MS = 365 * DAY;

const COOKIE_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** The browser's device cookie when it carries a well-formed one, else undefined. */
export function presentedDevice(value: string | undefined): string | undefined {
  return value !== undefined && COOKIE_SHAPE.test(value) ? value : undefined;
}

/** The value to keep in the browser's device cookie: the one it has, or a new random one. */
export function deviceCookieValue(presented: string | undefined): string {
  return presentedDevice(presented) ?? newSecret();
}

/** Whether this browser (its device cookie) signed in to the account before, within the TTL. */
export async function isKnownDevice(
  db: Executor,
  clock: Clock,
  userId: string,
  device: string | undefined,
): Promise<boolean> {
  const d = presentedDevice(device);
  if (!d) return false;
  const row = await db
    .selectFrom('trusted_devices')
    .select('user_id')
    .where('user_id', '=', userId)
    .where('device_hash', '=', sha256Hex(d))
    .where('expires_at', '>', clock.now())
    .executeTakeFirst();
  return row !== undefined;
}

/** Records (or refreshes) that this browser signed in to the account. Only the hash is stored. */
export async function rememberDevice(
  db: Executor,
  clock: Clock,
  userId: string,
  device: string,
): Promise<void> {
  const now = clock.now();
  await db
    .insertInto('trusted_devices')
    .values({
      user_id: userId,
      device_hash: sha256Hex(device),
      created_at: now,
      last_used_at: now,
      expires_at: addMs(now, DEVICE_TTL_MS),
    })
    .onConflict((oc) =>
      oc
        .columns(['user_id', 'device_hash'])
        .doUpdateSet({ last_used_at: now, expires_at: addMs(now, DEVICE_TTL_MS) }),
    )
    .execute();
}
