import type { Transaction } from 'kysely';
import type { Actor } from '../../auth/principal.js';
import type { Db } from '../../db/connection.js';
import type { Database } from '../../db/schema.js';
import type { Clock } from '../../lib/clock.js';
import { listUserOrgs } from '../../orgs/queries.js';
import { type EmailProof, proveEmail } from '../email-proof.js';
import { findIdentity, linkIdentity } from '../identities.js';
import { type NewDeviceSignin, signedInFromDevice } from '../new-device.js';
import { revokeSession } from '../sessions.js';
import { signIn } from '../signin.js';
import { SignupRefused } from '../signup-policy.js';
import { cleanName, NAME_MAX } from '../../lib/names.js';
import { createAccount, findUserByEmail } from '../users.js';
import { isUniqueViolation } from '../../db/errors.js';
import { joinWaitlist } from '../waitlist.js';
import type { Profile, ProviderId, SocialErrorCode } from './provider.js';

export type SocialOutcome =
  | {
      kind: 'signed_in';
      userId: string;
      token: string;
      /** Hash of the browser's previous session, now ended (for cache invalidation). */
      ended: string | null;
      /** The account's unproven credentials were reset (see `proveEmail`), to announce after commit. */
      proof: EmailProof | null;
      /** A browser new to the account: what to mail the person after commit. */
      news: NewDeviceSignin | null;
    }
  | { kind: 'linked'; userId: string }
  | { kind: 'refused'; code: SocialErrorCode };

export interface SocialSignIn {
  provider: ProviderId;
  profile: Profile;
  /** Set when a signed-in person is linking the provider from their settings. */
  link: { userId: string } | null;
  /** The session the browser holds now, ended by a new sign-in. */
  previous: { userId: string; sessionId: string } | null;
  /** The device cookie the browser keeps (see `deviceCookieValue`). */
  device: string;
}

/**
 * What a provider's answer leads to, in one transaction (nothing half-created):
 * - linking: the identity joins the signed-in person, unless it signs in someone else;
 * - a known identity signs its person in;
 * - otherwise only a verified email goes further: it joins the account with that email, or
 *   creates one (through `createAccount`, so the sign-up policy applies; under `waitlist` the
 *   request is recorded instead).
 * An unverified or missing email never joins or creates an account.
 */
export async function completeSocialSignIn(
  deps: { db: Db; clock: Clock },
  who: Actor,
  r: SocialSignIn,
): Promise<SocialOutcome> {
  try {
    return await deps.db.transaction().execute((trx) => resolve(trx, deps.clock, who, r));
  } catch (err) {
    // Two sign-ins with one new identity or email raced; the loser's transaction rolled back whole.
    if (isUniqueViolation(err)) return { kind: 'refused', code: 'try_again' };
    throw err;
  }
}

async function resolve(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  r: SocialSignIn,
): Promise<SocialOutcome> {
  const { provider, profile } = r;
  const existing = await findIdentity(trx, provider, profile.subject);
  const identity = { provider, subject: profile.subject, email: profile.email };

  if (r.link) {
    const actor = { ...who, actor: `user:${r.link.userId}` };
    if (existing) {
      return existing.user_id === r.link.userId
        ? { kind: 'linked', userId: r.link.userId }
        : { kind: 'refused', code: 'identity_taken' };
    }
    const other = await trx
      .selectFrom('identities')
      .select('id')
      .where('user_id', '=', r.link.userId)
      .where('provider', '=', provider)
      .executeTakeFirst();
    if (other) return { kind: 'refused', code: 'already_linked' };
    await linkIdentity(trx, clock, actor, {
      ...identity,
      userId: r.link.userId,
      emailVerified: profile.emailVerified,
      via: 'settings',
    });
    return { kind: 'linked', userId: r.link.userId };
  }

  if (existing) return session(trx, clock, who, r, existing.user_id, null);
  if (!profile.email || !profile.emailVerified) return { kind: 'refused', code: 'email_unverified' };

  const user = await findUserByEmail(trx, profile.email);
  if (user) {
    const taken = await trx
      .selectFrom('identities')
      .select('id')
      .where('user_id', '=', user.id)
      .where('provider', '=', provider)
      .executeTakeFirst();
    // The account has another account at this provider: joining by email would add a second one.
    if (taken) return { kind: 'refused', code: 'identity_taken' };
    // Whoever made the account may not own the address the provider just proved.
    const proof = await proveEmail(trx, clock, { ...who, actor: `user:${user.id}` }, user, 'provider', {
      holder: r.previous?.userId === user.id,
    });
    await linkIdentity(
      trx,
      clock,
      { ...who, actor: `user:${user.id}` },
      {
        ...identity,
        userId: user.id,
        emailVerified: true,
        via: 'verified_email',
      },
    );
    return session(trx, clock, who, r, user.id, proof);
  }

  const name = cleanName(profile.name ?? '').slice(0, NAME_MAX) || profile.email.split('@')[0]!;
  let acct: Awaited<ReturnType<typeof createAccount>>;
  try {
    acct = await createAccount(trx, clock, who, {
      email: profile.email,
      name,
      passwordHash: null,
      emailVerified: true,
      via: provider,
    });
  } catch (err) {
    if (!(err instanceof SignupRefused)) throw err;
    if (err.policy === 'invite-only') return { kind: 'refused', code: 'signup_closed' };
    // Nothing was written: the same transaction records the request.
    await joinWaitlist(trx, clock, who, { email: profile.email, name, via: provider });
    return { kind: 'refused', code: 'waitlisted' };
  }
  await linkIdentity(
    trx,
    clock,
    { ...who, actor: `user:${acct.user.id}` },
    {
      ...identity,
      userId: acct.user.id,
      emailVerified: true,
      via: 'signup',
    },
  );
  return session(trx, clock, who, r, acct.user.id, null);
}

async function session(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  r: SocialSignIn,
  userId: string,
  proof: EmailProof | null,
): Promise<SocialOutcome> {
  // A new session at every sign-in; the one the browser held before (if any) ends.
  const ended = r.previous ? await revokeSession(trx, clock, r.previous.userId, r.previous.sessionId) : null;
  const orgId = (await listUserOrgs(trx, userId))[0]?.id ?? null;
  const s = await signIn(trx, clock, who, { userId, orgId, method: r.provider });
  const news = await signedInFromDevice(trx, clock, who, {
    userId,
    method: r.provider,
    device: r.device,
    pending: s.pending,
  });
  return { kind: 'signed_in', userId, token: s.token, ended, proof, news };
}
