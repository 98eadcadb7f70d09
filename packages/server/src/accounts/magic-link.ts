import type { Transaction } from 'kysely';
import type { Db } from '../db/connection.js';
import type { Database } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { addMs, MINUTE } from '../lib/clock.js';
import { newSecret, safeEqual, sha256Hex } from '../lib/secrets.js';
import type { Executor } from '../db/executor.js';

export const MAGIC_LINK_TTL_MS = 15 * MINUTE;
/** The cookie (base name) that binds a sign-in link to the browser that asked for it. */
export const MAGIC_LINK_BROWSER_COOKIE = 'lk_ml';

/**
 * Stores a single-use sign-in token (hashed) and returns the plaintext for the email.
 * `browser` is the cookie value of the browser that asked (stored hashed), or null: a link
 * made for no browser (e.g. one a server flow mails) always asks before it signs in.
 */
export async function issueMagicLink(
  db: Db,
  clock: Clock,
  email: string,
  returnTo: string | null,
  browser: string | null = null,
): Promise<string> {
  const token = newSecret();
  const now = clock.now();
  await db
    .insertInto('magic_links')
    .values({
      token_hash: sha256Hex(token),
      email,
      return_to: returnTo,
      created_at: now,
      expires_at: addMs(now, MAGIC_LINK_TTL_MS),
      browser_hash: browser === null ? null : sha256Hex(browser),
    })
    .execute();
  return token;
}

/** A live (unused, unexpired) link, read without using it: what its page shows. */
export async function findLiveMagicLink(db: Executor, clock: Clock, token: string) {
  return db
    .selectFrom('magic_links')
    .select(['email', 'browser_hash'])
    .where('token_hash', '=', sha256Hex(token))
    .where('consumed_at', 'is', null)
    .where('expires_at', '>', clock.now())
    .executeTakeFirst();
}

/** Whether `browser` (a cookie value, or undefined) is the one that asked for the link. */
export function sameBrowser(link: { browser_hash: string | null }, browser: string | undefined): boolean {
  return (
    link.browser_hash !== null && browser !== undefined && safeEqual(sha256Hex(browser), link.browser_hash)
  );
}

/**
 * Consumes a token atomically: of two concurrent uses, exactly one gets the row. Unless
 * `confirmed` (the person said so on the page), only the browser that asked for it may use it.
 */
export async function consumeMagicLink(
  trx: Transaction<Database>,
  clock: Clock,
  token: string,
  by: { browser: string | undefined; confirmed: boolean },
) {
  const now = clock.now();
  let q = trx
    .updateTable('magic_links')
    .set({ consumed_at: now })
    .where('token_hash', '=', sha256Hex(token))
    .where('consumed_at', 'is', null)
    .where('expires_at', '>', now);
  if (!by.confirmed) {
    if (by.browser === undefined) return undefined;
    q = q.where('browser_hash', '=', sha256Hex(by.browser));
  }
  return q.returning(['email', 'return_to']).executeTakeFirst();
}
