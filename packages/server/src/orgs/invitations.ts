import type { Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Role } from '../db/schema/orgs.js';
import { addMs, type Clock, DAY } from '../lib/clock.js';
import { newSecret, sha256Hex } from '../lib/secrets.js';
import { orderedId } from '../audit/ordered-id.js';
import type { Executor } from '../db/executor.js';

export const INVITATION_TTL_MS = 7 * DAY;

const COLUMNS = ['id', 'org_id', 'email', 'role', 'invited_by', 'created_at', 'expires_at'] as const;

export async function findOpenInvitationByEmail(db: Executor, clock: Clock, orgId: string, email: string) {
  return db
    .selectFrom('invitations')
    .select(COLUMNS)
    .where('org_id', '=', orgId)
    .where('email', '=', email)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', clock.now())
    .executeTakeFirst();
}

/** Open = neither accepted nor revoked; an expired open invitation is closed when a new one is made. */
export async function createInvitation(
  trx: Transaction<Database>,
  clock: Clock,
  i: { orgId: string; email: string; role: Role; invitedBy: string | null },
) {
  const now = clock.now();
  await trx
    .updateTable('invitations')
    .set({ revoked_at: now })
    .where('org_id', '=', i.orgId)
    .where('email', '=', i.email)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '<=', now)
    .execute();
  const token = newSecret();
  const row = {
    id: orderedId(now.getTime()),
    org_id: i.orgId,
    email: i.email,
    role: i.role,
    invited_by: i.invitedBy,
    created_at: now,
    expires_at: addMs(now, INVITATION_TTL_MS),
  };
  await trx
    .insertInto('invitations')
    .values({ ...row, token_hash: sha256Hex(token) })
    .execute();
  return { row, token };
}

export async function listOpenInvitations(
  db: Executor,
  clock: Clock,
  orgId: string,
  limit: number,
  after: { at: Date; id: string } | null,
) {
  let q = db
    .selectFrom('invitations')
    .select(COLUMNS)
    .where('org_id', '=', orgId)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', clock.now());
  if (after) {
    q = q.where((eb) =>
      eb.or([
        eb('created_at', '<', after.at),
        eb.and([eb('created_at', '=', after.at), eb('id', '<', after.id)]),
      ]),
    );
  }
  return q
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit + 1)
    .execute();
}

export async function revokeInvitation(trx: Transaction<Database>, clock: Clock, orgId: string, id: string) {
  return trx
    .updateTable('invitations')
    .set({ revoked_at: clock.now() })
    .where('id', '=', id)
    .where('org_id', '=', orgId)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .returning(['id', 'email'])
    .executeTakeFirst();
}

/** A new token and a fresh expiry for an open invitation (the old link stops working). */
export async function rotateInvitation(trx: Transaction<Database>, clock: Clock, orgId: string, id: string) {
  const token = newSecret();
  const row = await trx
    .updateTable('invitations')
    .set({ token_hash: sha256Hex(token), expires_at: addMs(clock.now(), INVITATION_TTL_MS) })
    .where('id', '=', id)
    .where('org_id', '=', orgId)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .returning(COLUMNS)
    .executeTakeFirst();
  return row ? { row, token } : null;
}

/**
 * Looks up a live invitation by its token, with the org it belongs to. `lock` takes the row lock
 * (inside a transaction), so a concurrent accept waits and then sees it consumed.
 */
export async function findInvitationByToken(db: Executor, clock: Clock, token: string, lock = false) {
  const q = openInvitations(db, clock).where('invitations.token_hash', '=', sha256Hex(token));
  return (lock ? q.forUpdate('invitations') : q).executeTakeFirst();
}

/** Invitations not yet accepted, revoked or expired, with the org each belongs to. */
function openInvitations(db: Executor, clock: Clock) {
  return db
    .selectFrom('invitations')
    .innerJoin('orgs', 'orgs.id', 'invitations.org_id')
    .select([
      'invitations.id',
      'invitations.org_id',
      'invitations.email',
      'invitations.role',
      'orgs.slug as org_slug',
      'orgs.name as org_name',
    ])
    .where('invitations.accepted_at', 'is', null)
    .where('invitations.revoked_at', 'is', null)
    .where('invitations.expires_at', '>', clock.now());
}

/**
 * `orgId`'s open invitation to `email`, with its org, row-locked (inside a transaction) like
 * `findInvitationByToken` with `lock`.
 */
export async function lockOpenInvitationByEmail(db: Executor, clock: Clock, orgId: string, email: string) {
  return openInvitations(db, clock)
    .where('invitations.org_id', '=', orgId)
    .where('invitations.email', '=', email)
    .forUpdate('invitations')
    .executeTakeFirst();
}

/** An open invitation with its org, as `findInvitationByToken` returns it. */
export type OpenInvitation = NonNullable<Awaited<ReturnType<typeof findInvitationByToken>>>;
