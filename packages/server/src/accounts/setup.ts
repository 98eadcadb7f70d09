import { sql } from 'kysely';
import type { Actor } from '../audit/log.js';
import { audit } from '../audit/log.js';
import type { Db } from '../db/connection.js';
import type { Clock } from '../lib/clock.js';
import { newSecret, sha256Hex } from '../lib/secrets.js';
import { createSession } from './sessions.js';
import { createAccount } from './users.js';

// Serialises setup completions (two start-up links, two browsers) so only one first owner exists.
const SETUP_LOCK_KEY = 748_213_978;

export async function needsSetup(db: Db): Promise<boolean> {
  return (await db.selectFrom('users').select('id').limit(1).executeTakeFirst()) === undefined;
}

/**
 * On a fresh install, stores a new one-time setup token (hashed) and returns the link that
 * carries it; null once an account exists. Each start prints a new link; all die at first use.
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

/**
 * Creates the first owner (an instance admin) and their org, whatever the sign-up policy; consumes
 * every setup token. Null when the token is not valid.
 */
export async function completeSetup(db: Db, clock: Clock, who: Actor, input: SetupInput) {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${SETUP_LOCK_KEY})`.execute(trx);
    const used = await trx
      .deleteFrom('setup_tokens')
      .where('token_hash', '=', sha256Hex(input.token))
      .returning('token_hash')
      .executeTakeFirst();
    if (!used) return null;
    const anyone = await trx.selectFrom('users').select('id').limit(1).executeTakeFirst();
    if (anyone) return null;
    await trx.deleteFrom('setup_tokens').execute();
    const acct = await createAccount(trx, clock, who, {
      email: input.email,
      name: input.name,
      passwordHash: input.passwordHash,
      emailVerified: false,
      orgName: input.orgName,
      via: 'setup',
      admission: { kind: 'setup' },
    });
    // The first owner runs the instance: sign-up policy, waitlist.
    await trx.updateTable('users').set({ instance_admin: true }).where('id', '=', acct.user.id).execute();
    const s = await createSession(trx, clock, {
      userId: acct.user.id,
      orgId: acct.org.id,
      ip: who.ip,
      userAgent: who.userAgent,
    });
    await audit(
      trx,
      clock,
      { ...who, actor: `user:${acct.user.id}` },
      {
        orgId: acct.org.id,
        action: 'setup.completed',
        target: `user:${acct.user.id}`,
        data: { instance_admin: true },
      },
    );
    return { ...acct, token: s.token };
  });
}
