import type { Transaction } from 'kysely';
import { type Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import { orderedId } from '../audit/ordered-id.js';
import type { Database } from '../db/schema.js';
import type { WaitlistStatus } from '../db/schema/accounts.js';
import { addMs, type Clock, DAY } from '../lib/clock.js';
import { newSecret, sha256Hex } from '../lib/secrets.js';
import type { Message } from '../mail/mailer.js';
import { escapeHtml } from '../mail/templates.js';
import type { Executor } from '../db/executor.js';

/** How long an approval's sign-up link works. */
export const WAITLIST_APPROVAL_TTL_MS = 7 * DAY;

const COLUMNS = ['id', 'email', 'name', 'via', 'status', 'created_at', 'decided_at', 'used_at'] as const;

export interface WaitlistRow {
  id: string;
  email: string;
  name: string | null;
  via: string;
  status: WaitlistStatus;
  created_at: Date;
  decided_at: Date | null;
  used_at: Date | null;
}

/**
 * Records a sign-up request (one per email: asking again changes nothing) and audits it with
 * the email only as a SHA-256, in the caller's transaction.
 */
export async function joinWaitlist(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  r: { email: string; name: string | null; via: string },
): Promise<void> {
  const now = clock.now();
  const row = await trx
    .insertInto('waitlist')
    .values({
      id: orderedId(now.getTime()),
      email: r.email,
      name: r.name,
      via: r.via,
      status: 'pending',
      created_at: now,
    })
    .onConflict((oc) => oc.column('email').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!row) return;
  await audit(trx, clock, who, {
    orgId: null,
    action: 'waitlist.requested',
    target: `waitlist:${row.id}`,
    data: { email_sha256: sha256Hex(r.email), via: r.via },
  });
}

export async function listWaitlist(
  db: Executor,
  q: { status: WaitlistStatus | null; limit: number; after: { at: Date; id: string } | null },
): Promise<WaitlistRow[]> {
  let query = db.selectFrom('waitlist').select(COLUMNS);
  if (q.status) query = query.where('status', '=', q.status);
  const after = q.after;
  if (after) {
    query = query.where((eb) =>
      eb.or([
        eb('created_at', '<', after.at),
        eb.and([eb('created_at', '=', after.at), eb('id', '<', after.id)]),
      ]),
    );
  }
  return query
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(q.limit + 1)
    .execute();
}

export type Decision =
  | { ok: true; row: WaitlistRow; token: string | null }
  | { ok: false; reason: 'not_found' | 'already_joined' };

/**
 * Approves (a new single-use sign-up link, `WAITLIST_APPROVAL_TTL_MS`; an earlier one stops
 * working) or denies a request, and audits it. A request whose person has since made their
 * account cannot be decided any more.
 */
export async function decideWaitlist(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  id: string,
  decision: 'approved' | 'denied',
): Promise<Decision> {
  const current = await trx
    .selectFrom('waitlist')
    .select(['id', 'used_at'])
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
  if (!current) return { ok: false, reason: 'not_found' };
  if (current.used_at) return { ok: false, reason: 'already_joined' };
  const now = clock.now();
  const token = decision === 'approved' ? newSecret() : null;
  const row = await trx
    .updateTable('waitlist')
    .set({
      status: decision,
      decided_at: now,
      decided_by: who.actor,
      token_hash: token ? sha256Hex(token) : null,
      expires_at: token ? addMs(now, WAITLIST_APPROVAL_TTL_MS) : null,
    })
    .where('id', '=', id)
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
  await audit(trx, clock, who, {
    orgId: null,
    action: decision === 'approved' ? 'waitlist.approved' : 'waitlist.denied',
    target: `waitlist:${id}`,
    data: { email_sha256: sha256Hex(row.email) },
  });
  return { ok: true, row, token };
}

/** The approved request an approval link's token belongs to, while it can still be used. */
export async function findApproval(db: Executor, clock: Clock, token: string) {
  return db
    .selectFrom('waitlist')
    .select(['id', 'email', 'name'])
    .where('token_hash', '=', sha256Hex(token))
    .where('status', '=', 'approved')
    .where('used_at', 'is', null)
    .where('expires_at', '>', clock.now())
    .executeTakeFirst();
}

/** Uses up an approval link's token for `email`, atomically: of two uses, one wins. */
export async function consumeApprovalByToken(
  trx: Transaction<Database>,
  clock: Clock,
  token: string,
  email: string,
): Promise<boolean> {
  const now = clock.now();
  const row = await trx
    .updateTable('waitlist')
    .set({ used_at: now })
    .where('token_hash', '=', sha256Hex(token))
    .where('email', '=', email)
    .where('status', '=', 'approved')
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/** Uses up the live approval of `email` (the person proved the address another way). */
export async function consumeApprovalByEmail(
  trx: Transaction<Database>,
  clock: Clock,
  email: string,
): Promise<boolean> {
  const now = clock.now();
  const row = await trx
    .updateTable('waitlist')
    .set({ used_at: now })
    .where('email', '=', email)
    .where('status', '=', 'approved')
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export function waitlistLink(publicUrl: string, token: string): string {
  return `${publicUrl}/signup?token=${token}`;
}

/** The mail an approval sends: a link to create the account. */
export function approvalEmail(to: string, link: string): Message {
  const days = WAITLIST_APPROVAL_TTL_MS / DAY;
  return {
    to,
    subject: 'Your Latchkey account request was approved',
    text: `Your request for a Latchkey account was approved.\n\nCreate your account with this link (valid ${days} days, usable once):\n\n${link}\n\nYou can also sign in with GitHub or Google using this email address.\n`,
    html: `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5;color:#111">
<h1 style="font-size:20px">Your request was approved</h1>
<p>Create your Latchkey account with this link. It is valid for ${days} days and works once.</p>
<p><a href="${escapeHtml(link)}">Create your account</a></p>
<p style="font-size:12px;color:#666">Or paste this link into your browser: ${escapeHtml(link)}</p>
<p style="color:#666;font-size:12px">Sent by Latchkey. If you did not expect this email, you can ignore it.</p>
</body></html>`,
  };
}
