import type { Transaction } from 'kysely';
import type { Db } from '../db/connection.js';
import type { Database } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { addMs, MINUTE } from '../lib/clock.js';
import { newSecret, sha256Hex } from '../lib/secrets.js';

export const MAGIC_LINK_TTL_MS = 15 * MINUTE;

/** Stores a single-use sign-in token (hashed) and returns the plaintext for the email. */
export async function issueMagicLink(
  db: Db,
  clock: Clock,
  email: string,
  returnTo: string | null,
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
    })
    .execute();
  return token;
}

/** Consumes a token atomically: of two concurrent uses, exactly one gets the row. */
export async function consumeMagicLink(trx: Transaction<Database>, clock: Clock, token: string) {
  const now = clock.now();
  return trx
    .updateTable('magic_links')
    .set({ consumed_at: now })
    .where('token_hash', '=', sha256Hex(token))
    .where('consumed_at', 'is', null)
    .where('expires_at', '>', now)
    .returning(['email', 'return_to'])
    .executeTakeFirst();
}
