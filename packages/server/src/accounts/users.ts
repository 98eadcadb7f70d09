import { sql, type Transaction } from 'kysely';
import { type Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import type { Database } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { newId } from '../lib/secrets.js';
import { isUniqueViolation } from '../db/errors.js';
import { freeSlug, insertOrg } from '../orgs/queries.js';
import { slugify, suffixed } from '../orgs/slug.js';
import { type Admission, admitSignup } from './signup-policy.js';
import type { Executor } from '../db/executor.js';

export async function findUserByEmail(db: Executor, email: string) {
  return db
    .selectFrom('users')
    .select(['id', 'email', 'name', 'password_hash', 'email_verified_at'])
    .where('email', '=', email)
    .executeTakeFirst();
}

export interface NewAccount {
  email: string;
  name: string;
  passwordHash: string | null;
  emailVerified: boolean;
  /** Name of the first org; default: "<name>'s org". */
  orgName?: string;
  /**
   * How the account came to be, for the audit log and the waitlist: password, magic_link, setup,
   * invitation, github, google, waitlist, agent_overseer…
   */
  via: string;
  /** Why the sign-up policy does not apply (an invitation, SSO, an approval, setup); see `admitSignup`. */
  admission?: Admission;
}

/**
 * Creates a user, their first org and the owner membership, and audits it — inside the caller's
 * transaction, so a crash leaves all of it or none of it. The sign-up policy is checked first:
 * `SignupRefused` (403 `signup_closed`) is thrown before anything is written.
 */
export async function createAccount(trx: Transaction<Database>, clock: Clock, who: Actor, a: NewAccount) {
  const admitted = await admitSignup(trx, clock, {
    email: a.email,
    emailVerified: a.emailVerified,
    ...(a.admission ? { admission: a.admission } : {}),
  });
  const now = clock.now();
  const user = { id: newId(), email: a.email, name: a.name };
  await trx
    .insertInto('users')
    .values({
      ...user,
      password_hash: a.passwordHash,
      email_verified_at: a.emailVerified ? now : null,
      created_at: now,
      updated_at: now,
    })
    .execute();
  const orgName = a.orgName ?? `${a.name}'s org`;
  const org = await insertOrgRetryingSlug(trx, clock, orgName, user.id);
  const actor = { ...who, actor: `user:${user.id}` };
  await audit(trx, clock, actor, {
    orgId: null,
    action: 'user.signup',
    target: `user:${user.id}`,
    data: { via: a.via, admitted },
  });
  await audit(trx, clock, actor, {
    orgId: org.id,
    action: 'org.created',
    target: `org:${org.id}`,
    data: { slug: org.slug },
  });
  return { user, org };
}

/**
 * Inserts an org with a free slug derived from its name. Two transactions can both see a slug
 * free; the loser's insert hits the unique index, is rolled back to a savepoint and retried with
 * a suffixed slug, so concurrent sign-ups with one name all succeed.
 */
async function insertOrgRetryingSlug(
  trx: Transaction<Database>,
  clock: Clock,
  name: string,
  ownerId: string,
) {
  for (let attempt = 0; ; attempt++) {
    const slug = attempt === 0 ? await freeSlug(trx, name) : suffixed(slugify(name));
    await sql`savepoint org_slug`.execute(trx);
    try {
      const org = await insertOrg(trx, clock, { name, slug, ownerId });
      await sql`release savepoint org_slug`.execute(trx);
      return org;
    } catch (err) {
      await sql`rollback to savepoint org_slug`.execute(trx);
      if (!isUniqueViolation(err) || attempt >= 5) throw err;
    }
  }
}
