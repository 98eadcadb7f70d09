import { sql, type Transaction } from 'kysely';
import { type Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import type { Database } from '../db/schema.js';
import { ApiError } from '../errors.js';
import { addMs, type Clock, HOUR } from '../lib/clock.js';
import { newSecret, sha256Hex } from '../lib/secrets.js';
import type { Message } from '../mail/mailer.js';
import { button, escapeHtml, layout } from '../mail/templates.js';
import { maskEmail } from '../lib/email.js';
import { type EmailProof, proveEmail } from './email-proof.js';
import { isUniqueViolation } from '../db/errors.js';
import type { Executor } from '../db/executor.js';

/** A link to a new address works once, for this long. */
export const EMAIL_CHANGE_TTL_MS = 24 * HOUR;
/** The page the link opens (GET shows one button, POST makes the change). */
export const CONFIRM_EMAIL_PATH = '/confirm-email';

/** What `POST /api/v1/me/email` answers when someone else's account uses the address (as sign-up does). */
export const EMAIL_TAKEN = 'An account with this email exists.';

export function emailChangeEmail(to: string, link: string): Message {
  return {
    to,
    subject: 'Confirm your new email address for Latchkey',
    text: `Someone (hopefully you) asked to use this address for their Latchkey account.\n\nConfirm it with this link (valid 24 hours, usable once):\n\n${link}\n\nIf you did not ask, ignore this message: nothing changes.\n`,
    html: layout(
      'Confirm your new email address',
      `<p>Someone (hopefully you) asked to use this address for their Latchkey account. The link is valid for 24 hours and works once.</p>${button(link, 'Use this address')}<p>If you did not ask, ignore this message: nothing changes.</p>`,
    ),
  };
}

/** Sent to the old address once the change is made: the person can react if it was not them. */
export function emailChangedNotice(to: string, newEmail: string): Message {
  const masked = maskEmail(newEmail);
  return {
    to,
    subject: 'Your Latchkey email address was changed',
    text: `The email address of your Latchkey account was changed to ${masked}. Mail about the account now goes there, and this address no longer signs in.\n\nIf this was not you, contact your administrator now.\n`,
    html: layout(
      'Your email address was changed',
      `<p>The email address of your Latchkey account was changed to <strong>${escapeHtml(masked)}</strong>. Mail about the account now goes there, and this address no longer signs in.</p><p>If this was not you, contact your administrator now.</p>`,
    ),
  };
}

/**
 * Starts a change of the account's email to `newEmail` (normalised, valid): refuses the current
 * address (400) and one another account holds (409 `email_taken`, as sign-up does), then stores
 * a single-use link (hashed) and returns its token, to be mailed to the new address only.
 */
export async function startEmailChange(
  db: Executor,
  clock: Clock,
  who: Actor,
  user: { id: string; email: string },
  newEmail: string,
): Promise<string> {
  if (newEmail === user.email) throw new ApiError('invalid_request', 'This is the address the account has.');
  const taken = await db.selectFrom('users').select('id').where('email', '=', newEmail).executeTakeFirst();
  if (taken) throw new ApiError('email_taken', EMAIL_TAKEN);
  const token = newSecret();
  const now = clock.now();
  await db
    .insertInto('email_changes')
    .values({
      token_hash: sha256Hex(token),
      user_id: user.id,
      old_email: user.email,
      new_email: newEmail,
      created_at: now,
      expires_at: addMs(now, EMAIL_CHANGE_TTL_MS),
    })
    .execute();
  await audit(db, clock, who, {
    orgId: null,
    action: 'user.email_change_requested',
    target: `user:${user.id}`,
    data: { new_email: newEmail },
  });
  return token;
}

/** A live link, read without using it: what its page shows. */
export async function findLiveEmailChange(db: Executor, clock: Clock, token: string) {
  const row = await db
    .selectFrom('email_changes as c')
    .innerJoin('users as u', 'u.id', 'c.user_id')
    .select(['c.user_id', 'c.old_email', 'c.new_email'])
    .where('c.token_hash', '=', sha256Hex(token))
    .where('c.consumed_at', 'is', null)
    .where('c.expires_at', '>', clock.now())
    .whereRef('u.email', '=', 'c.old_email')
    .where('u.disabled_at', 'is', null)
    .executeTakeFirst();
  return row ?? null;
}

export interface EmailChanged {
  userId: string;
  oldEmail: string;
  newEmail: string;
  /** When the account had never proven an address: what `proveEmail` ended. */
  proof: EmailProof | null;
}

/**
 * Uses a link: consumes it atomically, and moves the account to the new address, now proven.
 * The link is dead when the account's address changed since it was sent, or the account is
 * disabled (null). An account that had never proven an address is treated as `proveEmail` does:
 * unless the browser using the link is signed in to it (`holder`), whoever made it may not be
 * the person who owns it, and its credentials end. Throws 409 `email_taken` when another account
 * took the address meanwhile (the transaction rolls back; the link stays unused).
 */
export async function completeEmailChange(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  token: string,
  opts: { holderUserId: string | null },
): Promise<EmailChanged | null> {
  const now = clock.now();
  const link = await trx
    .updateTable('email_changes')
    .set({ consumed_at: now })
    .where('token_hash', '=', sha256Hex(token))
    .where('consumed_at', 'is', null)
    .where('expires_at', '>', now)
    .returning(['user_id', 'old_email', 'new_email'])
    .executeTakeFirst();
  if (!link) return null;
  const user = await trx
    .selectFrom('users')
    .select(['id', 'email', 'password_hash', 'email_verified_at', 'disabled_at'])
    .where('id', '=', link.user_id)
    .forUpdate()
    .executeTakeFirst();
  if (!user || user.email !== link.old_email || user.disabled_at !== null) return null;
  const actor = { ...who, actor: who.userId === user.id ? who.actor : `user:${user.id}`, userId: user.id };
  const proof = await proveEmail(trx, clock, actor, user, 'verification_link', {
    holder: opts.holderUserId === user.id,
  });
  await sql`savepoint email_change`.execute(trx);
  try {
    await trx
      .updateTable('users')
      .set({ email: link.new_email, email_verified_at: now, updated_at: now })
      .where('id', '=', user.id)
      .execute();
    await sql`release savepoint email_change`.execute(trx);
  } catch (err) {
    await sql`rollback to savepoint email_change`.execute(trx);
    if (isUniqueViolation(err)) throw new ApiError('email_taken', EMAIL_TAKEN);
    throw err;
  }
  // Links sent to the old address (or for other new ones) prove nothing any more.
  await trx
    .updateTable('email_changes')
    .set({ consumed_at: now })
    .where('user_id', '=', user.id)
    .where('consumed_at', 'is', null)
    .execute();
  await trx
    .updateTable('password_resets')
    .set({ consumed_at: now })
    .where('user_id', '=', user.id)
    .where('consumed_at', 'is', null)
    .execute();
  await audit(trx, clock, actor, {
    orgId: null,
    action: 'user.email_changed',
    target: `user:${user.id}`,
    data: { old_email: link.old_email, new_email: link.new_email },
  });
  return { userId: user.id, oldEmail: link.old_email, newEmail: link.new_email, proof };
}
