import type { Transaction } from 'kysely';
import { findUserByEmail } from '../accounts/users.js';
import { type Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import type { Database } from '../db/schema.js';
import type { Deps } from '../deps.js';
import { newId } from '../lib/secrets.js';
import { invitationEmail } from '../mail/templates.js';
import { invitationLink } from '../orgs/invitation-routes.js';
import {
  createInvitation,
  findOpenInvitationByEmail,
  INVITATION_TTL_MS,
  revokeInvitation,
} from '../orgs/invitations.js';
import { isVerifiedDomainOf } from '../orgs/sso-enforcement.js';
import { ScimError } from './errors.js';
import { SCIM_INVITATIONS_PER_HOUR } from './limits.js';
import { accountName, type UserInput } from './users/document.js';

/**
 * Which account a SCIM userName may reach. An org controls only the addresses it has proven: an
 * email in one of its verified domains links the account that proved that address (or a new one,
 * verified, since the org owns the domain); a person who already joined the org is linked as they
 * are. Anyone else — another domain, or an address at the org's domain that its holder never
 * proved — gets an invitation and stays pending until they accept it, so no org can pull in, show
 * or change an account it does not own.
 */

export type LinkDeps = Pick<Deps, 'db' | 'clock' | 'cache'>;

/** Why a record is linked to an account (the `via` of `scim.user_linked`). */
export type LinkReason = 'verified_domain' | 'member' | 'invitation';

export type Placement =
  { kind: 'linked'; userId: string; via: LinkReason; created: boolean } | { kind: 'pending' };

function domainOf(email: string): string {
  return email.slice(email.lastIndexOf('@') + 1);
}

/**
 * Where `input.userName` places the person in the org. Creates the account (audited) when the
 * address is in a verified domain and nobody holds it yet; touches no existing account.
 */
export async function place(
  trx: Transaction<Database>,
  deps: LinkDeps,
  who: { orgId: string; actor: Actor },
  input: UserInput,
): Promise<Placement> {
  const email = input.userName;
  const account = await findUserByEmail(trx, email);
  if (account) {
    const member = await trx
      .selectFrom('memberships')
      .select('role')
      .where('org_id', '=', who.orgId)
      .where('user_id', '=', account.id)
      .executeTakeFirst();
    if (member) return { kind: 'linked', userId: account.id, via: 'member', created: false };
  }
  if (!(await isVerifiedDomainOf(trx, who.orgId, domainOf(email)))) return { kind: 'pending' };
  if (account) {
    // Someone signed up with this address and never proved it: they must prove it by accepting.
    return account.email_verified_at
      ? { kind: 'linked', userId: account.id, via: 'verified_domain', created: false }
      : { kind: 'pending' };
  }
  const userId = newId();
  const now = deps.clock.now();
  await trx
    .insertInto('users')
    .values({
      id: userId,
      email,
      name: accountName(input),
      password_hash: null,
      // The org has proven it controls the domain, so it vouches for the address.
      email_verified_at: now,
      created_at: now,
      updated_at: now,
    })
    .execute();
  await audit(trx, deps.clock, who.actor, {
    orgId: who.orgId,
    action: 'user.created',
    target: `user:${userId}`,
    data: { via: 'scim' },
  });
  return { kind: 'linked', userId, via: 'verified_domain', created: true };
}

/** Records on the account's own trail (target `user:<id>`) that this org's SCIM record now stands for it. */
export async function auditLink(
  trx: Transaction<Database>,
  deps: Pick<Deps, 'clock'>,
  who: { orgId: string; actor: Actor },
  l: { userId: string; scimId: string; via: LinkReason },
): Promise<void> {
  await audit(trx, deps.clock, who.actor, {
    orgId: who.orgId,
    action: 'scim.user_linked',
    target: `user:${l.userId}`,
    data: { scim_id: l.scimId, via: l.via },
  });
}

/** An invitation to mail once the transaction that made it has committed. */
export interface InvitationMail {
  readonly orgId: string;
  readonly to: string;
  readonly token: string;
  readonly role: string;
}

/**
 * The open invitation a pending record waits on: an open one for the address is reused (nothing
 * is mailed twice); otherwise a new one is made, to be mailed. Bounded per org and hour.
 */
export async function ensureInvitation(
  trx: Transaction<Database>,
  deps: LinkDeps,
  who: { orgId: string; actor: Actor },
  email: string,
): Promise<{ id: string; mail: InvitationMail | null }> {
  const open = await findOpenInvitationByEmail(trx, deps.clock, who.orgId, email);
  if (open) return { id: open.id, mail: null };
  const limited = await deps.cache
    .limiter({ name: 'scim:invitations', points: SCIM_INVITATIONS_PER_HOUR, windowSeconds: 3600 })
    .consume(who.orgId);
  if (!limited.allowed)
    throw new ScimError(
      'rate_limited',
      'This organisation has invited too many people through SCIM this hour; try later.',
      { 'retry-after': String(limited.retryAfterSeconds) },
    );
  const inv = await createInvitation(trx, deps.clock, {
    orgId: who.orgId,
    email,
    role: 'member',
    invitedBy: null,
  });
  await audit(trx, deps.clock, who.actor, {
    orgId: who.orgId,
    action: 'invitation.created',
    target: `invitation:${inv.row.id}`,
    data: { email, role: 'member', via: 'scim' },
  });
  return { id: inv.row.id, mail: { orgId: who.orgId, to: email, token: inv.token, role: 'member' } };
}

/** Whether this invitation is still open (neither accepted, revoked nor expired). */
export async function isOpenInvitation(
  trx: Transaction<Database>,
  deps: Pick<Deps, 'clock'>,
  orgId: string,
  id: string,
): Promise<boolean> {
  const row = await trx
    .selectFrom('invitations')
    .select('id')
    .where('id', '=', id)
    .where('org_id', '=', orgId)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', deps.clock.now())
    .executeTakeFirst();
  return row !== undefined;
}

/** Revokes the invitation a pending record waited on (when still open), audited. */
export async function withdrawInvitation(
  trx: Transaction<Database>,
  deps: Pick<Deps, 'clock'>,
  who: { orgId: string; actor: Actor },
  id: string,
): Promise<void> {
  const r = await revokeInvitation(trx, deps.clock, who.orgId, id);
  if (r)
    await audit(trx, deps.clock, who.actor, {
      orgId: who.orgId,
      action: 'invitation.revoked',
      target: `invitation:${r.id}`,
      data: { email: r.email, via: 'scim' },
    });
}

export interface MailLog {
  error(obj: object, msg: string): void;
}

/** Mails a SCIM invitation with the invitation template. A failure is logged: the record stays pending. */
export async function sendInvitationMail(
  deps: Pick<Deps, 'db' | 'mailer' | 'config'>,
  log: MailLog,
  m: InvitationMail,
): Promise<void> {
  try {
    const org = await deps.db
      .selectFrom('orgs')
      .select('name')
      .where('id', '=', m.orgId)
      .executeTakeFirstOrThrow();
    await deps.mailer.send(
      invitationEmail({
        to: m.to,
        orgName: org.name,
        inviterName: null,
        role: m.role,
        link: invitationLink(deps.config.publicUrl, m.token),
        days: INVITATION_TTL_MS / 86_400_000,
      }),
    );
  } catch (err) {
    log.error({ err: (err as Error).message }, 'sending a SCIM invitation failed; the record stays pending');
  }
}
