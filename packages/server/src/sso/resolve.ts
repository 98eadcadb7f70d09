import type { Transaction } from 'kysely';
import { signIn } from '../accounts/signin.js';
import { SignupRefused } from '../accounts/signup-policy.js';
import { cleanName, createAccount, findUserByEmail, isUniqueViolation, NAME_MAX } from '../accounts/users.js';
import { type Actor, audit } from '../audit/log.js';
import type { Db } from '../db/connection.js';
import type { Database, Role } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { getMembership } from '../orgs/queries.js';
import { SsoError } from './errors.js';
import type { SsoProfile } from './oidc.js';
import { isVerifiedDomainOf } from './queries.js';

export interface SsoSignIn {
  connection: { id: string; org_id: string; kind: 'oidc' | 'saml'; default_role: Exclude<Role, 'owner'> };
  profile: SsoProfile;
}

/**
 * What an IdP's answer leads to, in one transaction (nothing half-created):
 * - a known (connection, subject) signs its person in, rejoining the org if they had left it;
 * - otherwise the email must be at one of the org's verified domains (the IdP speaks for those,
 *   and only those): an account with it that is a member links and signs in; an account that is
 *   not a member is refused (an admin invites it first — an org's IdP never takes over someone
 *   else's account); no account → just-in-time: the account (sign-up policy admitted by SSO),
 *   the membership with the connection's default role, the identity.
 * Every session is `method: 'sso'` in the SSO org.
 */
export async function completeSsoSignIn(
  deps: { db: Db; clock: Clock },
  who: Actor,
  r: SsoSignIn,
): Promise<{ userId: string; token: string }> {
  try {
    return await deps.db.transaction().execute((trx) => resolve(trx, deps.clock, who, r));
  } catch (err) {
    if (isUniqueViolation(err)) throw new SsoError('try_again');
    throw err;
  }
}

async function resolve(trx: Transaction<Database>, clock: Clock, who: Actor, r: SsoSignIn) {
  const { connection: c, profile } = r;
  const orgId = c.org_id;
  const known = await trx
    .selectFrom('sso_identities')
    .select('user_id')
    .where('connection_id', '=', c.id)
    .where('subject', '=', profile.subject)
    .executeTakeFirst();
  let userId: string;
  if (known) {
    userId = known.user_id;
    if (!(await getMembership(trx, orgId, userId))) await addMember(trx, clock, who, r, userId);
  } else {
    const email = profile.email;
    const domain = email?.split('@')[1];
    if (!email || !domain || !(await isVerifiedDomainOf(trx, orgId, domain))) {
      throw new SsoError('email_not_allowed');
    }
    const user = await findUserByEmail(trx, email);
    if (user) {
      if (!(await getMembership(trx, orgId, user.id))) throw new SsoError('account_not_member');
      userId = user.id;
      if (!user.email_verified_at) {
        await trx
          .updateTable('users')
          .set({ email_verified_at: clock.now(), updated_at: clock.now() })
          .where('id', '=', user.id)
          .execute();
      }
    } else {
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
      await addMember(trx, clock, who, r, userId);
    }
    await trx
      .insertInto('sso_identities')
      .values({ connection_id: c.id, subject: profile.subject, user_id: userId, created_at: clock.now() })
      .execute();
    await audit(
      trx,
      clock,
      { ...who, actor: `user:${userId}` },
      {
        orgId,
        action: 'sso.identity_linked',
        target: `user:${userId}`,
        data: { connection_id: c.id, kind: c.kind },
      },
    );
  }
  const s = await signIn(trx, clock, who, { userId, orgId, method: 'sso' });
  return { userId, token: s.token };
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
