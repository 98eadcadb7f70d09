import { sql, type Transaction } from 'kysely';
import type { Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import type { Db } from '../db/connection.js';
import type { Executor } from '../db/executor.js';
import type { Database } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { newSecret, sha256Hex } from '../lib/secrets.js';
import { signIn } from './signin.js';
import { createAccount, findUserByEmail } from './users.js';
import { isUniqueViolation } from '../db/errors.js';

// Serialises setup completions (two start-up links, two browsers) so only one first admin is made.
const SETUP_LOCK_KEY = 748_213_978;

/**
 * True while the instance has no instance admin — however many other accounts exist (people who
 * signed up first, overseers an agent named): setup is about who runs the instance.
 */
export async function needsSetup(db: Executor): Promise<boolean> {
  const admin = await db
    .selectFrom('users')
    .select('id')
    .where('instance_admin', '=', true)
    .limit(1)
    .executeTakeFirst();
  return admin === undefined;
}

/**
 * While no instance admin exists, stores a new one-time setup token (hashed) and returns the link
 * that carries it; null once one does. Every start (and `latchkey-server admin bootstrap`) makes a
 * new link; all of them die at the first use.
 */
export async function issueSetupLink(db: Db, clock: Clock, publicUrl: string): Promise<string | null> {
  if (!(await needsSetup(db))) return null;
  const token = newSecret();
  await db
    .insertInto('setup_tokens')
    .values({ token_hash: sha256Hex(token), created_at: clock.now() })
    .execute();
  return `${publicUrl}/setup?token=${token}`;
}

export async function setupTokenValid(db: Db, token: string): Promise<boolean> {
  const row = await db
    .selectFrom('setup_tokens')
    .select('token_hash')
    .where('token_hash', '=', sha256Hex(token))
    .executeTakeFirst();
  return row !== undefined && (await needsSetup(db));
}

export interface SetupInput {
  token: string;
  email: string;
  name: string;
  passwordHash: string;
  orgName: string;
}

/** Why a setup link did nothing: used, unknown or setup already done; or the email has an account. */
export type SetupRefusal = 'invalid' | 'email_taken';

class Refused extends Error {
  constructor(readonly reason: SetupRefusal) {
    super(reason);
  }
}

/**
 * Takes the setup lock, consumes the link's token (and, when the link is good, every other one):
 * returns false when the token is unknown or an instance admin exists already.
 */
async function consumeSetupToken(trx: Transaction<Database>, token: string): Promise<boolean> {
  await sql`select pg_advisory_xact_lock(${SETUP_LOCK_KEY})`.execute(trx);
  const used = await trx
    .deleteFrom('setup_tokens')
    .where('token_hash', '=', sha256Hex(token))
    .returning('token_hash')
    .executeTakeFirst();
  if (!used || !(await needsSetup(trx))) return false;
  await trx.deleteFrom('setup_tokens').execute();
  return true;
}

async function makeAdmin(trx: Transaction<Database>, clock: Clock, who: Actor, user: AdminMade) {
  await trx.updateTable('users').set({ instance_admin: true }).where('id', '=', user.userId).execute();
  await audit(
    trx,
    clock,
    { ...who, actor: `user:${user.userId}` },
    {
      orgId: user.orgId,
      action: 'setup.completed',
      target: `user:${user.userId}`,
      data: { instance_admin: true, account: user.account },
    },
  );
}

interface AdminMade {
  userId: string;
  orgId: string | null;
  account: 'created' | 'existing';
}

/**
 * Creates an account that is an instance admin, with its org, whatever the sign-up policy, and
 * signs it in. Refuses `invalid` (the link is used, unknown, or an admin exists) and
 * `email_taken` (the person signs in as that account and opens the link again); either way
 * nothing is written and the link still works if it did.
 */
export async function completeSetup(db: Db, clock: Clock, who: Actor, input: SetupInput) {
  try {
    return await db.transaction().execute(async (trx) => {
      if (!(await consumeSetupToken(trx, input.token))) throw new Refused('invalid');
      if (await findUserByEmail(trx, input.email)) throw new Refused('email_taken');
      const acct = await createAccount(trx, clock, who, {
        email: input.email,
        name: input.name,
        passwordHash: input.passwordHash,
        emailVerified: false,
        orgName: input.orgName,
        via: 'setup',
        admission: { kind: 'setup' },
      });
      await makeAdmin(trx, clock, who, { userId: acct.user.id, orgId: acct.org.id, account: 'created' });
      const s = await signIn(trx, clock, who, {
        userId: acct.user.id,
        orgId: acct.org.id,
        method: 'password',
      });
      return { ok: true as const, ...acct, token: s.token };
    });
  } catch (err) {
    if (err instanceof Refused) return { ok: false as const, reason: err.reason };
    // The address was taken by a sign-up meanwhile.
    if (isUniqueViolation(err)) return { ok: false as const, reason: 'email_taken' as const };
    throw err;
  }
}

/**
 * Makes the signed-in person (who confirmed on the setup page) an instance admin. False when the
 * link is used, unknown, or an admin exists already.
 */
export async function claimSetup(
  db: Db,
  clock: Clock,
  who: Actor,
  c: { token: string; userId: string },
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    if (!(await consumeSetupToken(trx, c.token))) return false;
    await makeAdmin(trx, clock, who, { userId: c.userId, orgId: null, account: 'existing' });
    return true;
  });
}
