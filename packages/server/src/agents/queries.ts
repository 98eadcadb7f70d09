import { sql, type Transaction } from 'kysely';
import { isUniqueViolation } from '../db/errors.js';
import type { AgentStatus } from '../db/schema/agents.js';
import type { Database } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { newId } from '../lib/secrets.js';
import { freeSlug } from '../orgs/queries.js';
import { slugify, suffixed } from '../orgs/slug.js';
import { MAX_CODE_ATTEMPTS } from './limits.js';
import type { Executor } from '../db/executor.js';

/** Columns an agent is read with: never the code hash, except where the code is checked. */
const AGENT = [
  'agents.id',
  'agents.org_id',
  'agents.token_id',
  'agents.display_name',
  'agents.note_to_human',
  'agents.harness',
  'agents.human_email',
  'agents.status',
  'agents.failed_attempts',
  'agents.code_expires_at',
  'agents.claimed_by',
  'agents.created_at',
  'agents.claimed_at',
  'api_tokens.prefix as key_prefix',
] as const;

export interface AgentRow {
  id: string;
  org_id: string;
  token_id: string;
  display_name: string;
  note_to_human: string | null;
  harness: string | null;
  human_email: string;
  status: AgentStatus;
  failed_attempts: number;
  code_expires_at: Date;
  claimed_by: string | null;
  created_at: Date;
  claimed_at: Date | null;
  key_prefix: string;
}

/** The two-key advisory lock space of agent signups (the single-key space belongs to others). */
const EMAIL_LOCK_SPACE = 7_401;

/** Serialises signups naming one human, so the pending cap cannot be raced past. */
export async function lockHumanEmail(trx: Transaction<Database>, email: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(${EMAIL_LOCK_SPACE}, hashtext(${email}))`.execute(trx);
}

/** Signups awaiting `email`: unclaimed, code still live, attempts left; and when the first one lapses. */
export async function pendingForEmail(db: Executor, email: string, now: Date) {
  const row = await db
    .selectFrom('agents')
    .select((eb) => [eb.fn.countAll<string>().as('n'), eb.fn.min('code_expires_at').as('first_expiry')])
    .where('human_email', '=', email)
    .where('status', '=', 'unclaimed')
    .where('code_expires_at', '>', now)
    .where('failed_attempts', '<', MAX_CODE_ATTEMPTS)
    .executeTakeFirstOrThrow();
  const first = row.first_expiry as Date | string | null;
  return { count: Number(row.n), firstExpiry: first === null ? null : new Date(first) };
}

/**
 * An org with no members yet: the agent's, until a human claims it. Two signups can pick the same
 * free slug; the loser's insert is rolled back to a savepoint and retried with a suffix.
 */
export async function insertOwnerlessOrg(trx: Transaction<Database>, clock: Clock, name: string) {
  const now = clock.now();
  for (let attempt = 0; ; attempt++) {
    const slug = attempt === 0 ? await freeSlug(trx, name) : suffixed(slugify(name));
    const org = { id: newId(), slug, name, created_at: now, updated_at: now };
    await sql`savepoint agent_org_slug`.execute(trx);
    try {
      await trx.insertInto('orgs').values(org).execute();
      await sql`release savepoint agent_org_slug`.execute(trx);
      return org;
    } catch (err) {
      await sql`rollback to savepoint agent_org_slug`.execute(trx);
      if (!isUniqueViolation(err) || attempt >= 5) throw err;
    }
  }
}

export interface NewAgent {
  id: string;
  orgId: string;
  tokenId: string;
  displayName: string;
  note: string | null;
  harness: string | null;
  humanEmail: string;
  codeHash: string;
  codeExpiresAt: Date;
  createdAt: Date;
}

export async function insertAgent(trx: Transaction<Database>, a: NewAgent): Promise<void> {
  await trx
    .insertInto('agents')
    .values({
      id: a.id,
      org_id: a.orgId,
      token_id: a.tokenId,
      display_name: a.displayName,
      note_to_human: a.note,
      harness: a.harness,
      human_email: a.humanEmail,
      status: 'unclaimed',
      code_hash: a.codeHash,
      code_expires_at: a.codeExpiresAt,
      created_at: a.createdAt,
    })
    .execute();
}

/** The agent behind a live key, by the key's hash. */
export async function findAgentByTokenHash(db: Executor, hash: string): Promise<AgentRow | undefined> {
  return db
    .selectFrom('agents')
    .innerJoin('api_tokens', 'api_tokens.id', 'agents.token_id')
    .select(AGENT)
    .where('api_tokens.token_hash', '=', hash)
    .where('api_tokens.revoked_at', 'is', null)
    .executeTakeFirst();
}

export async function findAgent(db: Executor, id: string): Promise<AgentRow | undefined> {
  return db
    .selectFrom('agents')
    .innerJoin('api_tokens', 'api_tokens.id', 'agents.token_id')
    .select(AGENT)
    .where('agents.id', '=', id)
    .executeTakeFirst();
}

/** Reads an agent under a row lock (with its code hash): verify, approve, deny and revoke serialise here. */
export async function lockAgent(trx: Transaction<Database>, id: string) {
  return trx
    .selectFrom('agents')
    .innerJoin('api_tokens', 'api_tokens.id', 'agents.token_id')
    .select([...AGENT, 'agents.code_hash'])
    .where('agents.id', '=', id)
    .forUpdate('agents')
    .executeTakeFirst();
}

/** Counts one wrong code; returns the failures so far. */
export async function countFailure(trx: Transaction<Database>, id: string): Promise<number> {
  const row = await trx
    .updateTable('agents')
    .set((eb) => ({ failed_attempts: eb('failed_attempts', '+', 1) }))
    .where('id', '=', id)
    .returning('failed_attempts')
    .executeTakeFirstOrThrow();
  return row.failed_attempts;
}

/** Unclaimed → claimed, consuming the code. Null when it was not unclaimed. */
export async function markClaimed(trx: Transaction<Database>, clock: Clock, id: string, userId: string) {
  return trx
    .updateTable('agents')
    .set({ status: 'claimed', claimed_by: userId, claimed_at: clock.now(), code_hash: null })
    .where('id', '=', id)
    .where('status', '=', 'unclaimed')
    .returning('id')
    .executeTakeFirst();
}

/** Ends an agent (denied or revoked) when it is in one of `from`. Null when it was not. */
export async function markClosed(
  trx: Transaction<Database>,
  clock: Clock,
  id: string,
  status: 'denied' | 'revoked',
  from: readonly AgentStatus[],
) {
  return trx
    .updateTable('agents')
    .set({ status, closed_at: clock.now(), code_hash: null })
    .where('id', '=', id)
    .where('status', 'in', [...from])
    .returning('id')
    .executeTakeFirst();
}

/** The scopes stored on the agent's key (what Latchkey's own API sees); returns the key's hash. */
export async function setKeyScopes(trx: Transaction<Database>, tokenId: string, scopes: readonly string[]) {
  return trx
    .updateTable('api_tokens')
    .set({ scopes: JSON.stringify(scopes) })
    .where('id', '=', tokenId)
    .where('revoked_at', 'is', null)
    .returning('token_hash')
    .executeTakeFirst();
}

/** Live (unclaimed or claimed, key not revoked) agents of an org, newest first, keyset-paginated. */
export async function listOrgAgents(
  db: Executor,
  orgId: string,
  limit: number,
  after: { at: Date; id: string } | null,
): Promise<AgentRow[]> {
  let q = db
    .selectFrom('agents')
    .innerJoin('api_tokens', 'api_tokens.id', 'agents.token_id')
    .select(AGENT)
    .where('agents.org_id', '=', orgId)
    .where('agents.status', 'in', ['unclaimed', 'claimed'])
    .where('api_tokens.revoked_at', 'is', null);
  if (after) {
    q = q.where((eb) =>
      eb.or([
        eb('agents.created_at', '<', after.at),
        eb.and([eb('agents.created_at', '=', after.at), eb('agents.id', '<', after.id)]),
      ]),
    );
  }
  return q
    .orderBy('agents.created_at', 'desc')
    .orderBy('agents.id', 'desc')
    .limit(limit + 1)
    .execute();
}

/** The agent a key belongs to, for introspection: one indexed lookup by the key's row id. */
export async function agentOfKey(db: Executor, tokenId: string) {
  return db.selectFrom('agents').select(['id', 'status']).where('token_id', '=', tokenId).executeTakeFirst();
}

/** Whether the person with this email proved they receive mail there (magic link, invitation…). */
export async function emailVerified(db: Executor, userId: string): Promise<boolean> {
  const row = await db
    .selectFrom('users')
    .select('email_verified_at')
    .where('id', '=', userId)
    .executeTakeFirst();
  return !!row?.email_verified_at;
}

/**
 * Every live agent a person oversees, across orgs, newest first, keyset-paginated: the agents of
 * the orgs where they are owner or admin, and — when their address is proven — the agents that
 * named them as overseer (pending ones live in orgs they are not a member of yet).
 */
export async function listOverseenAgents(
  db: Executor,
  who: { userId: string; email: string | null },
  limit: number,
  after: { at: Date; id: string } | null,
): Promise<(AgentRow & { org_name: string })[]> {
  let q = db
    .selectFrom('agents')
    .innerJoin('api_tokens', 'api_tokens.id', 'agents.token_id')
    .innerJoin('orgs', 'orgs.id', 'agents.org_id')
    .select([...AGENT, 'orgs.name as org_name'])
    .where('agents.status', 'in', ['unclaimed', 'claimed'])
    .where('api_tokens.revoked_at', 'is', null)
    .where((eb) =>
      eb.or([
        eb(
          'agents.org_id',
          'in',
          eb
            .selectFrom('memberships')
            .select('memberships.org_id')
            .where('memberships.user_id', '=', who.userId)
            .where('memberships.role', 'in', ['owner', 'admin']),
        ),
        ...(who.email ? [eb('agents.human_email', '=', who.email)] : []),
      ]),
    );
  if (after) {
    q = q.where((eb) =>
      eb.or([
        eb('agents.created_at', '<', after.at),
        eb.and([eb('agents.created_at', '=', after.at), eb('agents.id', '<', after.id)]),
      ]),
    );
  }
  return q
    .orderBy('agents.created_at', 'desc')
    .orderBy('agents.id', 'desc')
    .limit(limit + 1)
    .execute();
}
