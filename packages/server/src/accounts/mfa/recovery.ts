/**
 * Recovery codes: ten single-use codes, shown once, stored only as SHA-256 (each carries 50 random
 * bits, so a fast hash is enough). Regenerating replaces the whole set. A code is consumed
 * atomically (`UPDATE … WHERE used_at IS NULL RETURNING`): a second use of it finds nothing.
 */
import { randomInt } from 'node:crypto';
import type { Clock } from '../../lib/clock.js';
import { newId, sha256Hex } from '../../lib/secrets.js';
import type { Executor } from '../../db/executor.js';

export const RECOVERY_CODE_COUNT = 10;
/** Crockford-style base32 without look-alikes: 10 characters = 50 bits. */
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

function newCode(): string {
  let s = '';
  for (let i = 0; i < 10; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return `${s.slice(0, 5)}-${s.slice(5)}`;
}

/** What a typed code is compared as: lower case, without spaces and dashes. */
function normalize(code: string): string {
  return code.toLowerCase().replace(/[\s-]+/g, '');
}

/** Replaces the account's recovery codes with ten new ones; returns them (the only time they are shown). */
export async function regenerateRecoveryCodes(
  trx: Executor,
  clock: Clock,
  userId: string,
): Promise<string[]> {
  await trx.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newCode);
  await trx
    .insertInto('recovery_codes')
    .values(
      codes.map((c) => ({
        id: newId(),
        user_id: userId,
        code_hash: sha256Hex(normalize(c)),
        created_at: clock.now(),
        used_at: null,
      })),
    )
    .execute();
  return codes;
}

/** Uses one recovery code; false when it is unknown, malformed or already used. */
export async function useRecoveryCode(
  db: Executor,
  clock: Clock,
  userId: string,
  code: string,
): Promise<boolean> {
  const n = normalize(code);
  if (n.length !== 10 || ![...n].every((ch) => ALPHABET.includes(ch))) return false;
  const row = await db
    .updateTable('recovery_codes')
    .set({ used_at: clock.now() })
    .where('user_id', '=', userId)
    .where('code_hash', '=', sha256Hex(n))
    .where('used_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function remainingRecoveryCodes(db: Executor, userId: string): Promise<number> {
  const row = await db
    .selectFrom('recovery_codes')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function removeRecoveryCodes(db: Executor, userId: string): Promise<void> {
  await db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
}
