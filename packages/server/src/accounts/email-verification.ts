import type { Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Deps } from '../deps.js';
import { addMs, type Clock, HOUR } from '../lib/clock.js';
import { newSecret, sha256Hex } from '../lib/secrets.js';
import { verifyEmailEmail } from '../mail/templates.js';
import type { Executor } from '../db/executor.js';

/** A verification link works this long, once. */
export const EMAIL_VERIFICATION_TTL_MS = 24 * HOUR;
/** Where the mailed link opens its page. */
export const VERIFY_EMAIL_PATH = '/verify-email';

/** Stores a single-use verification token (hashed) for the account's address; returns the plaintext. */
export async function issueEmailVerification(
  db: Executor,
  clock: Clock,
  user: { id: string; email: string },
): Promise<string> {
  const token = newSecret();
  const now = clock.now();
  await db
    .insertInto('email_verifications')
    .values({
      token_hash: sha256Hex(token),
      user_id: user.id,
      email: user.email,
      created_at: now,
      expires_at: addMs(now, EMAIL_VERIFICATION_TTL_MS),
    })
    .execute();
  return token;
}

/**
 * A live link with its account, read without using it (what the page shows). Undefined when the
 * link is unknown, used, expired, or was sent to an address the account no longer has.
 */
export async function findLiveEmailVerification(db: Executor, clock: Clock, token: string) {
  return db
    .selectFrom('email_verifications as v')
    .innerJoin('users as u', 'u.id', 'v.user_id')
    .select(['v.user_id', 'u.email', 'u.email_verified_at'])
    .where('v.token_hash', '=', sha256Hex(token))
    .where('v.consumed_at', 'is', null)
    .where('v.expires_at', '>', clock.now())
    .whereRef('v.email', '=', 'u.email')
    .executeTakeFirst();
}

/**
 * Consumes a token atomically (of two concurrent uses exactly one gets it) and returns the
 * account it proves, or undefined. A link sent to an address the account no longer has proves
 * nothing (and is used up all the same).
 */
export async function consumeEmailVerification(trx: Transaction<Database>, clock: Clock, token: string) {
  const now = clock.now();
  const link = await trx
    .updateTable('email_verifications')
    .set({ consumed_at: now })
    .where('token_hash', '=', sha256Hex(token))
    .where('consumed_at', 'is', null)
    .where('expires_at', '>', now)
    .returning(['user_id', 'email'])
    .executeTakeFirst();
  if (!link) return undefined;
  return trx
    .selectFrom('users')
    .select(['id', 'email', 'name', 'password_hash', 'email_verified_at'])
    .where('id', '=', link.user_id)
    .where('email', '=', link.email)
    .forUpdate()
    .executeTakeFirst();
}

/**
 * Mails a fresh verification link to the account's address. A failure to send is logged, not
 * thrown: the person can ask again (`POST /api/auth/verify-email/resend`).
 */
export async function sendEmailVerification(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'mailer'>,
  user: { id: string; email: string; name: string },
  log: { error(obj: object, msg: string): void },
): Promise<void> {
  const token = await issueEmailVerification(deps.db, deps.clock, user);
  const link = `${deps.config.publicUrl}${VERIFY_EMAIL_PATH}?token=${token}`;
  try {
    await deps.mailer.send(
      verifyEmailEmail({
        to: user.email,
        name: user.name,
        link,
        hours: EMAIL_VERIFICATION_TTL_MS / HOUR,
      }),
    );
  } catch (err) {
    log.error({ err: (err as Error).message }, 'sending the verification link failed');
  }
}
