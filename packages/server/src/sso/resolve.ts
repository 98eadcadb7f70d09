import type { Transaction } from 'kysely';
import { proofChanges, proveEmail } from '../accounts/email-proof.js';
import { type NewDeviceSignin, signedInFromDevice } from '../accounts/new-device.js';
import { signIn } from '../accounts/signin.js';
import { SignupRefused } from '../accounts/signup-policy.js';
import { cleanName, NAME_MAX } from '../lib/names.js';
import { createAccount, findUserByEmail } from '../accounts/users.js';
import { isUniqueViolation } from '../db/errors.js';
import { type Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import type { Db } from '../db/connection.js';
import type { Database } from '../db/schema.js';
import type { Role } from '../db/schema/orgs.js';
import type { AuthChange } from '../auth/credential-cache.js';
import type { Clock } from '../lib/clock.js';
import { acceptInvitationAtSsoSignIn } from '../joining/accept.js';
import { findOpenInvitationByEmail } from '../orgs/invitations.js';
import { getMembership } from '../orgs/queries.js';
import { SsoError } from './errors.js';
import type { SsoProfile } from './oidc.js';
import { getSettings } from './queries.js';
import { isVerifiedDomainOf } from '../orgs/sso-enforcement.js';

export interface SsoSignIn {
  connection: { id: string; org_id: string; kind: 'oidc' | 'saml'; default_role: Exclude<Role, 'owner'> };
  profile: SsoProfile;
  /** The browser's device cookie; null when it cannot reach this request (see `signedInFromDevice`). */
  device: string | null;
}

export interface SsoSignedIn {
  userId: string;
  /** The new session's token, for the cookie. */
  token: string;
  /** What to announce to every node once committed (credentials ended, a membership added). */
  changes: AuthChange[];
  /** A browser new to the account: what to mail the person after commit. */
  news: NewDeviceSignin | null;
}

type Account = NonNullable<Awaited<ReturnType<typeof findUserByEmail>>>;

/**
 * What an IdP's answer leads to, in one transaction (nothing half-created, nothing revoked on a
 * refusal). An org's IdP speaks only for the addresses at the domains the org has verified, so:
 * - a known (connection, subject) signs its person in only while that account's email is at one of
 *   the org's verified domains (re-checked at every sign-in: a domain the org lost ends it);
 * - otherwise the IdP's email must be at one of those domains: an account with that email links
 *   (if it never proved its address, the IdP proves it now and whatever the account's maker had —
 *   sessions, tokens, password, OAuth grants — ends first, see `proveEmail`); no account →
 *   just-in-time, when the org provisions at sign-in: the account (sign-up policy admitted by SSO)
 *   and the identity;
 * - a person who is not a member joins by the org's open invitation to their address when there is
 *   one (with its role; this is how an invitee of an org that enforces SSO accepts), else with the
 *   connection's default role when the org provisions at sign-in, and is refused otherwise (an
 *   admin invites them first).
 * Every refusal is an `SsoError` whose page says why. Every session is `method: 'sso'` in the
 * SSO org.
 */
export async function completeSsoSignIn(
  deps: { db: Db; clock: Clock },
  who: Actor,
  r: SsoSignIn,
): Promise<SsoSignedIn> {
  try {
    return await deps.db.transaction().execute((trx) => resolve(trx, deps.clock, who, r));
  } catch (err) {
    if (isUniqueViolation(err)) throw new SsoError('try_again');
    throw err;
  }
}

function domainOf(email: string | null): string | null {
  const at = email?.lastIndexOf('@') ?? -1;
  return at > 0 ? email!.slice(at + 1) : null;
}

async function atVerifiedDomain(trx: Transaction<Database>, orgId: string, email: string | null) {
  const domain = domainOf(email);
  return domain !== null && (await isVerifiedDomainOf(trx, orgId, domain));
}

async function resolve(trx: Transaction<Database>, clock: Clock, who: Actor, r: SsoSignIn) {
  const { connection: c, profile } = r;
  const orgId = c.org_id;
  const { jit_provisioning: provisions } = await getSettings(trx, orgId);
  const known = await trx
    .selectFrom('sso_identities')
    .innerJoin('users', 'users.id', 'sso_identities.user_id')
    .select(['users.id', 'users.email', 'users.name', 'users.password_hash', 'users.email_verified_at'])
    .where('sso_identities.connection_id', '=', c.id)
    .where('sso_identities.subject', '=', profile.subject)
    .executeTakeFirst();

  let user: Account | undefined;
  if (known) {
    if (!(await atVerifiedDomain(trx, orgId, known.email))) throw new SsoError('account_outside_domains');
    user = known;
  } else {
    if (!profile.email || !(await atVerifiedDomain(trx, orgId, profile.email))) {
      throw new SsoError('email_not_allowed');
    }
    user = await findUserByEmail(trx, profile.email);
  }
  const invited = await findOpenInvitationByEmail(trx, clock, orgId, user?.email ?? profile.email!);
  if (!user && !provisions && !invited) throw new SsoError('no_account');
  if (user && !provisions && !invited && !(await getMembership(trx, orgId, user.id))) {
    throw new SsoError('account_not_member');
  }

  const changes: AuthChange[] = [];
  let userId: string;
  if (user) {
    userId = user.id;
    // The IdP vouches for this very address, at a domain the org proved it controls.
    if (profile.email === user.email) {
      const proof = await proveEmail(trx, clock, { ...who, actor: `user:${userId}` }, user, 'sso');
      changes.push(...proofChanges(proof));
    }
  } else {
    const email = profile.email!;
    const name = cleanName(profile.name ?? '').slice(0, NAME_MAX) || email.split('@')[0]!;
    try {
      const acct = await createAccount(trx, clock, who, {
        email,
        name,
        passwordHash: null,
        emailVerified: true,
        via: `sso_${c.kind}`,
        admission: { kind: 'sso', orgId },
      });
      userId = acct.user.id;
    } catch (err) {
      if (err instanceof SignupRefused) throw new SsoError('signup_closed');
      throw err;
    }
  }
  if (!known) await linkIdentity(trx, clock, who, r, userId);
  if (!(await getMembership(trx, orgId, userId))) {
    const email = user?.email ?? profile.email!;
    const actor = { ...who, actor: `user:${userId}` };
    const joined = invited
      ? await acceptInvitationAtSsoSignIn(trx, clock, actor, { orgId, user: { id: userId, email } })
      : null;
    if (!joined?.ok) {
      // No invitation (or it was used or withdrawn meanwhile): only an org that provisions adds them.
      if (!provisions) throw new SsoError('try_again');
      await addMember(trx, clock, who, r, userId);
    }
    changes.push({ user: userId });
  }
  const s = await signIn(trx, clock, who, { userId, orgId, method: 'sso' });
  const news = await signedInFromDevice(trx, clock, who, {
    userId,
    method: 'sso',
    device: r.device,
    pending: s.pending,
  });
  return { userId, token: s.token, changes, news };
}

async function linkIdentity(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  r: SsoSignIn,
  userId: string,
) {
  await trx
    .insertInto('sso_identities')
    .values({
      connection_id: r.connection.id,
      subject: r.profile.subject,
      user_id: userId,
      created_at: clock.now(),
    })
    .execute();
  await audit(
    trx,
    clock,
    { ...who, actor: `user:${userId}` },
    {
      orgId: r.connection.org_id,
      action: 'sso.identity_linked',
      target: `user:${userId}`,
      data: { connection_id: r.connection.id, kind: r.connection.kind },
    },
  );
}

async function addMember(trx: Transaction<Database>, clock: Clock, who: Actor, r: SsoSignIn, userId: string) {
  const role = r.connection.default_role;
  await trx
    .insertInto('memberships')
    .values({ org_id: r.connection.org_id, user_id: userId, role, created_at: clock.now() })
    .execute();
  await audit(
    trx,
    clock,
    { ...who, actor: `user:${userId}` },
    {
      orgId: r.connection.org_id,
      action: 'member.added',
      target: `user:${userId}`,
      data: { role, via: 'sso_jit', connection_id: r.connection.id },
    },
  );
}
