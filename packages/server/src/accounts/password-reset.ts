import type { Transaction } from 'kysely';
import { type Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import type { Database } from '../db/schema.js';
import type { Deps } from '../deps.js';
import { addMs, type Clock, MINUTE } from '../lib/clock.js';
import { newSecret, sha256Hex } from '../lib/secrets.js';
import type { Message } from '../mail/mailer.js';
import { button, escapeHtml, layout } from '../mail/templates.js';
import { revokeOAuthTokens, revokeUserPats } from '../tokens/queries.js';
import { type EmailProof, proveEmail } from './email-proof.js';
import { limit } from './input.js';
import type { AccountLimiters } from './limits.js';
import type { Executor } from '../db/executor.js';

/** A reset link works once, for this long. */
export const PASSWORD_RESET_TTL_MS = 30 * MINUTE;
/** The page a reset link opens (GET shows the form, POST sets the password). */
export const RESET_PASSWORD_PATH = '/reset-password';
/** What a reset request answers, whether or not the account exists or mail went out. */
export const RESET_REQUESTED =
  'If an account uses this address, a link to choose a new password is on its way. It works once, for 30 minutes.';

export function passwordResetEmail(to: string, link: string): Message {
  const minutes = PASSWORD_RESET_TTL_MS / MINUTE;
  return {
    to,
    subject: 'Reset your Latchkey password',
    text: `Someone (hopefully you) asked to reset the password of your Latchkey account.\n\nChoose a new password with this link (valid ${minutes} minutes, usable once):\n\n${link}\n\nIf you did not ask, ignore this message: your password stays as it is.\n`,
    html: layout(
      'Reset your password',
      `<p>Someone (hopefully you) asked to reset the password of your Latchkey account. The link is valid for ${minutes} minutes and works once.</p>${button(link, 'Choose a new password')}<p>If you did not ask, ignore this message: your password stays as it is.</p>`,
    ),
  };
}

export function passwordChangedEmail(to: string, how: 'reset' | 'admin'): Message {
  const what =
    how === 'reset'
      ? 'The password of your Latchkey account was just reset with a link mailed to this address.'
      : 'An administrator of this Latchkey server asked you to choose a new password: your old one no longer works, and a link to choose a new one follows in a separate message.';
  return {
    to,
    subject: 'Your Latchkey password was changed',
    text: `${what}\n\nEvery session of the account was signed out, and its personal access tokens were revoked.\n\nIf this was not you, reset your password now and contact your administrator.\n`,
    html: layout(
      'Your password was changed',
      `<p>${escapeHtml(what)}</p><p>Every session of the account was signed out, and its personal access tokens were revoked.</p><p>If this was not you, reset your password now and contact your administrator.</p>`,
    ),
  };
}

/** Stores a single-use reset link (hashed) for the account and returns the plaintext token. */
export async function issuePasswordReset(db: Executor, clock: Clock, user: { id: string; email: string }) {
  const token = newSecret();
  const now = clock.now();
  await db
    .insertInto('password_resets')
    .values({
      token_hash: sha256Hex(token),
      user_id: user.id,
      email: user.email,
      created_at: now,
      expires_at: addMs(now, PASSWORD_RESET_TTL_MS),
    })
    .execute();
  return token;
}

export function resetLink(publicUrl: string, token: string): string {
  return `${publicUrl}${RESET_PASSWORD_PATH}?token=${token}`;
}

/**
 * A reset request for `email` (normalised and valid): throttled per IP (429) and, silently, per
 * address. Mails a link only to an existing account that is not disabled; the caller answers the
 * same in every case.
 */
export async function requestPasswordReset(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'mailer'>,
  limits: AccountLimiters,
  r: { email: string; ip: string; log: { error: (obj: object, msg: string) => void } },
): Promise<void> {
  await limit(limits.passwordResetsPerIp, r.ip);
  const perEmail = await limits.passwordResetsPerEmail.consume(sha256Hex(r.email));
  if (!perEmail.allowed) return;
  const user = await deps.db
    .selectFrom('users')
    .select(['id', 'email', 'disabled_at'])
    .where('email', '=', r.email)
    .executeTakeFirst();
  if (!user || user.disabled_at !== null) return;
  const token = await issuePasswordReset(deps.db, deps.clock, user);
  try {
    await deps.mailer.send(passwordResetEmail(user.email, resetLink(deps.config.publicUrl, token)));
  } catch (err) {
    r.log.error({ err: (err as Error).message }, 'sending a password reset link failed');
  }
}

/** A live reset link, read without using it: what its page shows. Null when it cannot be used. */
export async function findLiveReset(db: Executor, clock: Clock, token: string) {
  const row = await db
    .selectFrom('password_resets as r')
    .innerJoin('users as u', 'u.id', 'r.user_id')
    .select(['r.user_id', 'r.email'])
    .where('r.token_hash', '=', sha256Hex(token))
    .where('r.consumed_at', 'is', null)
    .where('r.expires_at', '>', clock.now())
    // A link sent to an address the account no longer has proves nothing.
    .whereRef('u.email', '=', 'r.email')
    .where('u.disabled_at', 'is', null)
    .executeTakeFirst();
  return row ?? null;
}

export interface CredentialsEnded {
  sessions: number;
  /** Token hashes ended (personal tokens and what they minted, refresh tokens). */
  hashes: string[];
  prefixes: string[];
  refreshTokens: number;
}

/**
 * What a new password ends, as a password change does: every session, the personal access
 * tokens and what they minted, and the refresh tokens the person's sign-ins handed to apps
 * (their grants stay).
 */
export async function endPasswordCredentials(
  trx: Transaction<Database>,
  clock: Clock,
  userId: string,
  reason: string,
): Promise<CredentialsEnded> {
  const sessionRows = await trx
    .updateTable('sessions')
    .set({ revoked_at: clock.now() })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .returning('token_hash')
    .execute();
  const pats = await revokeUserPats(trx, clock, userId, reason);
  const refresh = await revokeOAuthTokens(trx, clock, { user_id: userId, kind: 'rt' });
  return {
    sessions: sessionRows.length,
    hashes: [...[...sessionRows, ...pats].map((r) => r.token_hash), ...refresh.hashes],
    prefixes: pats.map((p) => p.prefix),
    refreshTokens: refresh.count,
  };
}

export interface ResetDone {
  userId: string;
  email: string;
  ended: CredentialsEnded;
  proof: EmailProof | null;
}

/**
 * Uses a reset link: consumes it atomically (of two concurrent uses exactly one wins), and sets
 * the password. The link reached the mailbox, so it proves the address: an account that never
 * proved it first loses what its maker held (`proveEmail`). Then every session, personal token
 * and refresh token ends, the account's other reset links die, and `user.password_reset` is
 * audited. Null when the link is unknown, used, expired, for an old address or a disabled account.
 */
export async function resetPassword(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  token: string,
  passwordHash: string,
): Promise<ResetDone | null> {
  const now = clock.now();
  const link = await trx
    .updateTable('password_resets')
    .set({ consumed_at: now })
    .where('token_hash', '=', sha256Hex(token))
    .where('consumed_at', 'is', null)
    .where('expires_at', '>', now)
    .returning(['user_id', 'email'])
    .executeTakeFirst();
  if (!link) return null;
  const user = await trx
    .selectFrom('users')
    .select(['id', 'email', 'password_hash', 'email_verified_at', 'disabled_at'])
    .where('id', '=', link.user_id)
    .forUpdate()
    .executeTakeFirst();
  if (!user || user.email !== link.email || user.disabled_at !== null) return null;
  const actor = { ...who, actor: `user:${user.id}`, userId: user.id };
  const proof = await proveEmail(trx, clock, actor, user, 'verification_link');
  await trx
    .updateTable('users')
    .set({ password_hash: passwordHash, updated_at: now })
    .where('id', '=', user.id)
    .execute();
  await trx
    .updateTable('password_resets')
    .set({ consumed_at: now })
    .where('user_id', '=', user.id)
    .where('consumed_at', 'is', null)
    .execute();
  const ended = await endPasswordCredentials(trx, clock, user.id, 'password_reset');
  await audit(trx, clock, actor, {
    orgId: null,
    action: 'user.password_reset',
    target: `user:${user.id}`,
    data: {
      revoked_sessions: ended.sessions,
      revoked_tokens: ended.prefixes,
      revoked_refresh_tokens: ended.refreshTokens,
    },
  });
  return { userId: user.id, email: user.email, ended, proof };
}
