// Joining an org by accepting its invitation: by the link it mailed (the accept API and the
// invitation page) or at a sign-in through the org's own IdP. It sits above accounts/, orgs/ and
// scim/, which it draws on: it proves the address, applies the org's SSO rule, adds the membership
// and links a waiting SCIM record. Making, finding and revoking invitations stays in orgs/.
import type { Transaction } from 'kysely';
import { proveEmail } from '../accounts/email-proof.js';
import { sessionAuthInfo } from '../accounts/sessions.js';
import { ssoRequired } from '../accounts/signin.js';
import { audit } from '../audit/log.js';
import type { Actor } from '../auth/principal.js';
import type { Executor } from '../db/executor.js';
import type { Database } from '../db/schema.js';
import type { Role } from '../db/schema/orgs.js';
import type { Clock } from '../lib/clock.js';
import {
  findInvitationByToken,
  lockOpenInvitationByEmail,
  type OpenInvitation,
} from '../orgs/invitations.js';
import { enforcingOrgOf } from '../orgs/sso-enforcement.js';
import { linkAcceptedInvitation } from '../scim/accept.js';

/**
 * The org whose single sign-on opened the caller's browser session, for `acceptInvitation`; null
 * for any other credential (a personal or OAuth token, even one a session minted).
 */
export async function ssoOrgOfCaller(
  db: Executor,
  clock: Clock,
  caller: { kind: string; sessionId: string | null } | null,
): Promise<string | null> {
  if (caller?.kind !== 'session' || !caller.sessionId) return null;
  return (await sessionAuthInfo(db, clock, caller.sessionId))?.ssoOrgId ?? null;
}

export type AcceptOutcome =
  | { ok: true; org: { id: string; slug: string; name: string; role: Role } }
  | { ok: false; reason: 'invalid' | 'wrong_email' | 'already_member' };

/**
 * Accepts an invitation for `user`: consumes it atomically (single use), adds the membership,
 * marks the email verified (the token came by mail to it) and audits — in one transaction.
 *
 * An org that enforces single sign-on over the person (the rule `signIn` applies: `sso_enforced`,
 * an enabled connection, the email at a domain the org verified) admits them only from a session
 * its own IdP opened (`ssoOrgId`): any other credential — a password or magic-link session, a
 * personal token — throws `sso_required`, and the caller's transaction rolls back, so nothing is
 * consumed or added. Does not check how the caller authenticated beyond `ssoOrgId`.
 */
export async function acceptInvitation(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  a: {
    token: string;
    user: { id: string; email: string };
    /** The org whose single sign-on opened the accepting session; null for any other credential. */
    ssoOrgId: string | null;
  },
): Promise<AcceptOutcome> {
  // Locked first: two racing accepts of one token serialise here, and the second finds it used.
  const inv = await findInvitationByToken(trx, clock, a.token, true);
  if (!inv) return { ok: false, reason: 'invalid' };
  if (inv.email !== a.user.email) return { ok: false, reason: 'wrong_email' };
  return admit(trx, clock, who, inv, a.user, { ssoOrgId: a.ssoOrgId, via: 'link' });
}

/**
 * At an SSO sign-in through `orgId`'s own IdP, for an account that is not a member: accepts the
 * org's open invitation to the account's address, if there is one (the IdP vouched for the person
 * at a domain the org verified, and the org asked for them). Null when there is none. The caller
 * proves the address itself; this only joins, with the invited role, and consumes the invitation.
 */
export async function acceptInvitationAtSsoSignIn(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  a: { orgId: string; user: { id: string; email: string } },
): Promise<AcceptOutcome | null> {
  const inv = await lockOpenInvitationByEmail(trx, clock, a.orgId, a.user.email);
  if (!inv) return null;
  return admit(trx, clock, who, inv, a.user, { ssoOrgId: a.orgId, via: 'sso' });
}

/** Consumes a locked open invitation for `user` and adds the membership (see `acceptInvitation`). */
async function admit(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  inv: OpenInvitation,
  user: { id: string; email: string },
  how: { ssoOrgId: string | null; via: 'link' | 'sso' },
): Promise<AcceptOutcome> {
  const member = await trx
    .selectFrom('memberships')
    .select('role')
    .where('org_id', '=', inv.org_id)
    .where('user_id', '=', user.id)
    .executeTakeFirst();
  if (member) return { ok: false, reason: 'already_member' };
  const now = clock.now();
  const consumed = await trx
    .updateTable('invitations')
    .set({ accepted_at: now, accepted_by: user.id })
    .where('id', '=', inv.id)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  if (!consumed) return { ok: false, reason: 'invalid' };
  await trx
    .insertInto('memberships')
    .values({ org_id: inv.org_id, user_id: user.id, role: inv.role, created_at: now })
    .execute();
  // Asked of the new membership, so the rule is exactly the one sign-in enforces.
  const enforcing = await enforcingOrgOf(trx, user.id, inv.org_id);
  if (enforcing && how.ssoOrgId !== inv.org_id) throw ssoRequired(enforcing);
  if (how.via === 'link') {
    // The token came by mail to the address, and the acceptor is signed in as the account.
    const owner = await trx
      .selectFrom('users')
      .select(['id', 'password_hash', 'email_verified_at'])
      .where('id', '=', user.id)
      .executeTakeFirstOrThrow();
    await proveEmail(trx, clock, who, owner, 'invitation', { holder: true });
  }
  await audit(trx, clock, who, {
    orgId: inv.org_id,
    action: 'invitation.accepted',
    target: `user:${user.id}`,
    data: { invitation_id: inv.id, role: inv.role, ...(how.via === 'sso' ? { via: 'sso' } : {}) },
  });
  // An invitation SCIM sent for a pending record: the record now stands for this account.
  await linkAcceptedInvitation(trx, clock, who, { id: inv.id, orgId: inv.org_id }, user.id);
  return { ok: true, org: { id: inv.org_id, slug: inv.org_slug, name: inv.org_name, role: inv.role } };
}
