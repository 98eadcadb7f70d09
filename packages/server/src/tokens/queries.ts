import type { Transaction } from 'kysely';
import type { Db } from '../db/connection.js';
import type { ApiTokenKind, Database, Role } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { newId } from '../lib/secrets.js';

type Executor = Db | Transaction<Database>;

/** Columns a token list may show: never the hash. */
const LISTED = [
  'api_tokens.id',
  'api_tokens.kind',
  'api_tokens.prefix',
  'api_tokens.name',
  'api_tokens.scopes',
  'api_tokens.org_id',
  'api_tokens.created_by',
  'api_tokens.created_at',
  'api_tokens.expires_at',
  'api_tokens.last_used_at',
] as const;

export interface NewToken {
  kind: ApiTokenKind;
  hash: string;
  prefix: string;
  name: string | null;
  scopes: string[] | null;
  userId: string | null;
  orgId: string | null;
  role: Role | null;
  createdBy: string;
  createdByUser: string | null;
  expiresAt: Date | null;
}

export async function insertToken(db: Executor, clock: Clock, t: NewToken) {
  const row = {
    id: newId(),
    kind: t.kind,
    token_hash: t.hash,
    prefix: t.prefix,
    name: t.name,
    scopes: t.scopes ? JSON.stringify(t.scopes) : null,
    user_id: t.userId,
    org_id: t.orgId,
    role: t.role,
    created_by: t.createdBy,
    created_by_user: t.createdByUser,
    created_at: clock.now(),
    expires_at: t.expiresAt,
  };
  await db.insertInto('api_tokens').values(row).execute();
  return row;
}

/** The one validation lookup: a live (not revoked, not expired) token by hash, with its holder. */
export async function findLiveToken(db: Db, clock: Clock, hash: string) {
  return db
    .selectFrom('api_tokens')
    .leftJoin('users', 'users.id', 'api_tokens.user_id')
    .leftJoin('orgs', 'orgs.id', 'api_tokens.org_id')
    .select([
      'api_tokens.id',
      'api_tokens.kind',
      'api_tokens.prefix',
      'api_tokens.scopes',
      'api_tokens.role',
      'api_tokens.expires_at',
      'users.id as user_id',
      'users.email as user_email',
      'users.name as user_name',
      'orgs.id as org_id',
      'orgs.slug as org_slug',
      'orgs.name as org_name',
    ])
    .where('api_tokens.token_hash', '=', hash)
    .where('api_tokens.revoked_at', 'is', null)
    .where((eb) =>
      eb.or([eb('api_tokens.expires_at', 'is', null), eb('api_tokens.expires_at', '>', clock.now())]),
    )
    .executeTakeFirst();
}

export interface ListFilter {
  userId?: string;
  orgId?: string;
  kinds: ApiTokenKind[];
  limit: number;
  after: { at: Date; id: string } | null;
  now: Date;
}

/** Live tokens of a user (PATs) or of an org, newest first, keyset-paginated. */
export async function listTokens(db: Executor, f: ListFilter) {
  let q = db
    .selectFrom('api_tokens')
    .select(LISTED)
    .where('api_tokens.kind', 'in', f.kinds)
    .where('api_tokens.revoked_at', 'is', null)
    .where((eb) => eb.or([eb('api_tokens.expires_at', 'is', null), eb('api_tokens.expires_at', '>', f.now)]));
  if (f.userId) q = q.where('api_tokens.user_id', '=', f.userId);
  if (f.orgId) q = q.where('api_tokens.org_id', '=', f.orgId);
  const after = f.after;
  if (after) {
    q = q.where((eb) =>
      eb.or([
        eb('api_tokens.created_at', '<', after.at),
        eb.and([eb('api_tokens.created_at', '=', after.at), eb('api_tokens.id', '<', after.id)]),
      ]),
    );
  }
  return q
    .orderBy('api_tokens.created_at', 'desc')
    .orderBy('api_tokens.id', 'desc')
    .limit(f.limit + 1)
    .execute();
}

export async function findToken(db: Executor, id: string) {
  return db
    .selectFrom('api_tokens')
    .select(['id', 'kind', 'prefix', 'user_id', 'org_id', 'token_hash', 'revoked_at'])
    .where('id', '=', id)
    .executeTakeFirst();
}

/** Revokes one token; returns its hash when this call revoked it (null when it already was). */
export async function revokeToken(trx: Transaction<Database>, clock: Clock, id: string, reason: string) {
  const row = await trx
    .updateTable('api_tokens')
    .set({ revoked_at: clock.now(), revoked_reason: reason })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .returning(['token_hash', 'prefix'])
    .executeTakeFirst();
  return row ?? null;
}

/** Revokes every live PAT of a user (password change); returns their hashes and prefixes. */
export async function revokeUserPats(
  trx: Transaction<Database>,
  clock: Clock,
  userId: string,
  reason: string,
) {
  return trx
    .updateTable('api_tokens')
    .set({ revoked_at: clock.now(), revoked_reason: reason })
    .where('user_id', '=', userId)
    .where('kind', '=', 'pat')
    .where('revoked_at', 'is', null)
    .returning(['token_hash', 'prefix'])
    .execute();
}

export async function touchLastUsed(db: Db, id: string, at: Date) {
  await db.updateTable('api_tokens').set({ last_used_at: at }).where('id', '=', id).execute();
}
