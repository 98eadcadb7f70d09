import { sql, type Transaction } from 'kysely';
import { likeEscape } from '../db/like.js';
import { factorsOf, hasFactor } from '../accounts/mfa/factors.js';
import { removeRecoveryCodes } from '../accounts/mfa/recovery.js';
import { removeTotp } from '../accounts/mfa/totp.js';
import { type Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import type { Db } from '../db/connection.js';
import type { Database } from '../db/schema.js';
import { ApiError } from '../errors.js';
import type { Cursor } from '../http/pagination.js';
import type { Clock } from '../lib/clock.js';
import type { Message } from '../mail/mailer.js';
import { escapeHtml, layout } from '../mail/templates.js';
import { listUserOrgs } from '../orgs/queries.js';

/** Longest search text an instance admin may send. */
export const USER_SEARCH_MAX = 100;

export interface UserSummaryRow {
  id: string;
  email: string;
  name: string;
  created_at: Date;
  email_verified_at: Date | null;
  disabled_at: Date | null;
  instance_admin: boolean;
  has_password: boolean;
  last_sign_in_at: Date | null;
}

/** The accounts with what a list shows of each; the last sign-in is the newest session begun. */
function summaries(db: Db) {
  return db.selectFrom('users as u').select([
    'u.id',
    'u.email',
    'u.name',
    'u.created_at',
    'u.email_verified_at',
    'u.disabled_at',
    'u.instance_admin',
    sql<boolean>`u.password_hash is not null`.as('has_password'),
    (eb) =>
      eb
        .selectFrom('sessions as s')
        .select((e) => e.fn.max('s.created_at').as('at'))
        .whereRef('s.user_id', '=', 'u.id')
        .as('last_sign_in_at'),
  ]);
}

function toSummary(
  r: Omit<UserSummaryRow, 'last_sign_in_at'> & { last_sign_in_at: unknown },
): UserSummaryRow {
  return {
    ...r,
    last_sign_in_at: r.last_sign_in_at ? new Date(r.last_sign_in_at as string | Date) : null,
  };
}

/**
 * One page (limit + 1 rows) of the instance's accounts, newest first, whose email or name
 * contains `q` (case-insensitive). The last sign-in is the newest session the account began.
 */
export async function searchUsers(
  db: Db,
  f: { q: string | null; limit: number; after: Cursor | null },
): Promise<UserSummaryRow[]> {
  let query = summaries(db);
  if (f.q) {
    const pattern = `%${likeEscape(f.q.toLowerCase())}%`;
    query = query.where((eb) =>
      eb.or([
        eb(eb.fn('lower', ['u.email']), 'like', pattern),
        eb(eb.fn('lower', ['u.name']), 'like', pattern),
      ]),
    );
  }
  const after = f.after;
  if (after)
    query = query.where((eb) =>
      eb.or([
        eb('u.created_at', '<', after.at),
        eb.and([eb('u.created_at', '=', after.at), eb('u.id', '<', after.id)]),
      ]),
    );
  const rows = await query
    .orderBy('u.created_at', 'desc')
    .orderBy('u.id', 'desc')
    .limit(f.limit + 1)
    .execute();
  return rows.map(toSummary);
}

/** One account as an instance admin sees it: its orgs, live sessions, second factors and last sign-in. */
export async function userDetail(db: Db, clock: Clock, id: string) {
  const found = await summaries(db).where('u.id', '=', id).executeTakeFirst();
  if (!found) return null;
  const row = toSummary(found);
  const orgs = await listUserOrgs(db, id);
  const sessions = await db
    .selectFrom('sessions')
    .select(['id', 'ip', 'user_agent', 'created_at', 'last_seen_at', 'expires_at'])
    .where('user_id', '=', id)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', clock.now())
    .orderBy('last_seen_at', 'desc')
    .limit(100)
    .execute();
  const identities = await db
    .selectFrom('identities')
    .select(['provider', 'created_at'])
    .where('user_id', '=', id)
    .execute();
  const factors = await factorsOf(db, id);
  const passkeys = await db
    .selectFrom('passkeys')
    .select(['id', 'name', 'created_at', 'last_used_at'])
    .where('user_id', '=', id)
    .orderBy('created_at', 'asc')
    .execute();
  return { row, orgs, sessions, identities, factors, passkeys };
}

/** A second factor an instance admin removes from an account. */
export type AdminFactor = { kind: 'totp' } | { kind: 'recovery_codes' } | { kind: 'passkey'; id: string };

const FACTOR_MISSING: Record<AdminFactor['kind'], string> = {
  totp: 'This account has no authenticator app.',
  recovery_codes: 'This account has no recovery codes.',
  passkey: 'No such passkey.',
};

/**
 * Removes one second factor of an account for an instance admin helping a locked-out person. It
 * is allowed even when an org of theirs requires a factor: they are then walked through enrolment
 * at their next sign-in. Removing the last TOTP factor or passkey removes the recovery codes too
 * (they only back a factor up). Audited on the instance log with the account as its subject, so it
 * shows on the person's activity log. Throws `not_found` (rolling back) for an unknown account, or
 * a factor the account does not have; returns the account's address to mail a notice to.
 */
export async function removeFactor(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  userId: string,
  factor: AdminFactor,
): Promise<{ email: string }> {
  const user = await trx
    .selectFrom('users')
    .select(['id', 'email'])
    .where('id', '=', userId)
    .forUpdate()
    .executeTakeFirst();
  if (!user) throw new ApiError('not_found', 'No such account.');
  let removed: boolean;
  let action: string;
  const data: Record<string, unknown> = { by_instance_admin: true };
  if (factor.kind === 'totp') {
    removed = await removeTotp(trx, userId);
    action = 'user.totp_disabled';
  } else if (factor.kind === 'passkey') {
    const row = await trx
      .deleteFrom('passkeys')
      .where('id', '=', factor.id)
      .where('user_id', '=', userId)
      .returning('id')
      .executeTakeFirst();
    removed = row !== undefined;
    action = 'user.passkey_removed';
    data.passkey_id = factor.id;
  } else {
    const rows = await trx
      .deleteFrom('recovery_codes')
      .where('user_id', '=', userId)
      .where('used_at', 'is', null)
      .returning('id')
      .execute();
    await removeRecoveryCodes(trx, userId);
    removed = rows.length > 0;
    action = 'user.recovery_codes_removed';
  }
  if (!removed) throw new ApiError('not_found', FACTOR_MISSING[factor.kind]);
  if (factor.kind !== 'recovery_codes' && !hasFactor(await factorsOf(trx, userId))) {
    await removeRecoveryCodes(trx, userId);
    data.recovery_codes_removed = true;
  }
  await audit(trx, clock, who, { orgId: null, action, target: `user:${userId}`, data });
  return { email: user.email };
}

const FACTOR_WORDS: Record<AdminFactor['kind'], string> = {
  totp: 'the authenticator app (two-factor sign-in codes)',
  recovery_codes: 'the recovery codes',
  passkey: 'a passkey',
};

/** The notice mailed to a person when an instance admin removed a second factor of theirs. */
export function factorRemovedEmail(to: string, kind: AdminFactor['kind']): Message {
  const what = `An administrator of this Latchkey server removed ${FACTOR_WORDS[kind]} from your account.`;
  const next =
    'Your sessions stay signed in. You can add a second factor again from your account security settings; an organisation that requires one will ask you to at your next sign-in.';
  const warn = 'If you did not ask for this, contact your administrator.';
  return {
    to,
    subject: 'A second factor was removed from your Latchkey account',
    text: `${what}\n\n${next}\n\n${warn}\n`,
    html: layout(
      'A second factor was removed',
      `<p>${escapeHtml(what)}</p><p>${escapeHtml(next)}</p><p>${escapeHtml(warn)}</p>`,
    ),
  };
}
