import { sql, type Transaction } from 'kysely';
import type { Db } from '../db/connection.js';
import type { ApiTokenKind } from '../db/schema/tokens.js';
import type { Database } from '../db/schema.js';
import type { MembershipListEntry, Role } from '../db/schema/orgs.js';
import type { Clock } from '../lib/clock.js';
import { newId } from '../lib/secrets.js';
import type { Executor } from '../db/executor.js';
import { builtOnce } from '../db/built-once.js';
import { readRows } from '../db/read-rows.js';
import type { RowsStatement } from '../db/rows-statement.js';

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
  /** The credential that minted this one, when it was a token. */
  parentTokenId?: string | null;
  parentOAuthTokenId?: string | null;
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
    parent_token_id: t.parentTokenId ?? null,
    parent_oauth_token_id: t.parentOAuthTokenId ?? null,
  };
  await db.insertInto('api_tokens').values(row).execute();
  return row;
}

/** A live token as validation reads it, with its holder (and, for a personal token, the person's orgs). */
export interface LiveTokenRow {
  id: string;
  kind: ApiTokenKind;
  prefix: string;
  scopes: string[] | string | null;
  role: Role | null;
  expires_at: Date | null;
  created_by: string;
  parent_token_id: string | null;
  parent_oauth_token_id: string | null;
  user_id: string | null;
  user_email: string | null;
  user_name: string | null;
  user_email_verified_at: Date | null;
  org_id: string | null;
  org_slug: string | null;
  org_name: string | null;
  /** A personal token's person's orgs, as `listUserOrgs` lists them; null for other kinds. */
  memberships: MembershipListEntry[] | string | null;
}

/**
 * The one validation lookup: live (not revoked, not expired) tokens by hash, with their holders, one
 * row per `{ hash, now }` found (`RowsStatement`: concurrent validations share one execution). A
 * personal token's person's orgs come from `membership_lists` (kept by triggers: one index probe),
 * so a request that validates its token in the database needs no second statement for them.
 */
const LIVE_TOKENS: RowsStatement<LiveTokenRow> = builtOnce(
  (_db, p: { rows: string }) =>
    sql<LiveTokenRow & { n: number }>`
    select k.n::int4 as n, t.*
    from jsonb_array_elements(${p.rows}::jsonb) with ordinality as k(row, n)
    cross join lateral jsonb_to_record(k.row) as r(hash text, now timestamptz)
    cross join lateral (
      select api_tokens.id, api_tokens.kind, api_tokens.prefix, api_tokens.scopes, api_tokens.role,
        api_tokens.expires_at, api_tokens.created_by, api_tokens.parent_token_id,
        api_tokens.parent_oauth_token_id,
        users.id as user_id, users.email as user_email, users.name as user_name,
        users.email_verified_at as user_email_verified_at,
        orgs.id as org_id, orgs.slug as org_slug, orgs.name as org_name,
        case when api_tokens.kind = 'pat' then coalesce(membership_lists.orgs, '[]'::json) end as memberships
      from api_tokens
      left join users on users.id = api_tokens.user_id
      left join orgs on orgs.id = api_tokens.org_id
      left join membership_lists on membership_lists.user_id = api_tokens.user_id
      where api_tokens.token_hash = r.hash
        and api_tokens.revoked_at is null
        and (api_tokens.expires_at is null or api_tokens.expires_at > r.now)
        -- A personal token of a disabled account is no credential while it stays disabled.
        and users.disabled_at is null
      -- At most one live row per hash (a unique index); the limit also keeps the planner from
      -- turning the lookups into one join over every token: each is an index probe.
      limit 1
    ) t`,
);

/** A live token by its hash, with its holder; undefined when none is live. */
export async function findLiveToken(
  db: Executor,
  clock: Clock,
  hash: string,
): Promise<LiveTokenRow | undefined> {
  const [row] = await readRows(db, LIVE_TOKENS, [{ hash, now: clock.now() }]);
  return row;
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
    .select([
      'id',
      'kind',
      'prefix',
      'name',
      'scopes',
      'expires_at',
      'user_id',
      'org_id',
      'token_hash',
      'revoked_at',
    ])
    .where('id', '=', id)
    .executeTakeFirst();
}

export interface RevokedToken {
  id: string;
  token_hash: string;
  prefix: string;
}

/**
 * Revokes the given tokens and every token minted from them, at any depth, in one statement;
 * returns every row this call revoked (so their cache entries can be dropped). Descendants are
 * revoked with the reason `parent_revoked`.
 */
export async function revokeTree(
  trx: Executor,
  clock: Clock,
  rootIds: readonly string[],
  reason: string,
): Promise<RevokedToken[]> {
  if (rootIds.length === 0) return [];
  const roots = sql.join(rootIds.map((id) => sql`${id}::uuid`));
  const r = await sql<RevokedToken>`
    with recursive tree(id) as (
      select id from api_tokens where id in (${roots})
      union
      select c.id from api_tokens c join tree on c.parent_token_id = tree.id
    )
    update api_tokens
    set revoked_at = ${clock.now()},
        revoked_reason = case when id in (${roots}) then ${reason} else 'parent_revoked' end
    where id in (select id from tree) and revoked_at is null
    returning id, token_hash, prefix`.execute(trx);
  return r.rows;
}

/** Revokes the API tokens minted by these OAuth tokens, and everything minted from those. */
export async function revokeOAuthChildren(
  trx: Executor,
  clock: Clock,
  oauthTokenIds: readonly string[],
): Promise<RevokedToken[]> {
  if (oauthTokenIds.length === 0) return [];
  const children = await trx
    .selectFrom('api_tokens')
    .select('id')
    .where('parent_oauth_token_id', 'in', [...oauthTokenIds])
    .where('revoked_at', 'is', null)
    .execute();
  return revokeTree(
    trx,
    clock,
    children.map((c) => c.id),
    'parent_revoked',
  );
}

/**
 * Revokes one token and its descendants; returns the token's own hash and prefix when this call
 * revoked it (null when it already was), and every row revoked.
 */
export async function revokeToken(trx: Transaction<Database>, clock: Clock, id: string, reason: string) {
  const rows = await revokeTree(trx, clock, [id], reason);
  const own = rows.find((r) => r.id === id);
  return own ? { token_hash: own.token_hash, prefix: own.prefix, all: rows } : null;
}

/** Revokes every live PAT of a user (password change) and what they minted; returns every row revoked. */
export async function revokeUserPats(
  trx: Transaction<Database>,
  clock: Clock,
  userId: string,
  reason: string,
) {
  const pats = await trx
    .selectFrom('api_tokens')
    .select('id')
    .where('user_id', '=', userId)
    .where('kind', '=', 'pat')
    .where('revoked_at', 'is', null)
    .execute();
  return revokeTree(
    trx,
    clock,
    pats.map((p) => p.id),
    reason,
  );
}

export async function touchLastUsed(db: Db, id: string, at: Date) {
  await db.updateTable('api_tokens').set({ last_used_at: at }).where('id', '=', id).execute();
}

/** A token's prefix and when it was last used; throws when the token does not exist. */
export async function tokenLastUse(db: Executor, id: string) {
  return db
    .selectFrom('api_tokens')
    .select(['prefix', 'last_used_at'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
}

/** Passes of a revocation at most (each one past the first needs a rotation racing it). */
const MAX_REVOKE_PASSES = 10;

/** Which live OAuth tokens a revocation ends: every condition given holds for each. */
export interface TokenSelection {
  id?: string;
  family_id?: string;
  grant_id?: string;
  client_id?: string;
  user_id?: string;
  org_id?: string;
  kind?: 'at' | 'rt';
}

/**
 * Revokes every live OAuth token `which` selects, and the API tokens they minted; returns their
 * hashes (to drop from caches) and prefixes. Call it in the transaction of the change that ends them.
 */
export async function revokeOAuthTokens(
  trx: Executor,
  clock: Clock,
  which: TokenSelection,
): Promise<{ count: number; hashes: string[]; prefixes: string[] }> {
  // A rotation or exchange that commits while this runs issues rows its snapshot cannot see (it
  // waited on the row the rotation locked, then went on with the snapshot it started with): go
  // round again until a pass finds nothing alive, so nothing issued in the race outlives the rest.
  const rows: { id: string; token_hash: string; prefix: string }[] = [];
  for (let pass = 0; pass < MAX_REVOKE_PASSES; pass++) {
    let revoke = trx
      .updateTable('oauth_tokens')
      .set({ revoked_at: clock.now() })
      .where('revoked_at', 'is', null);
    for (const [column, value] of Object.entries(which) as [keyof TokenSelection, string][])
      revoke = revoke.where(column, '=', value);
    const revoked = await revoke.returning(['id', 'token_hash', 'prefix']).execute();
    if (revoked.length === 0) break;
    rows.push(...revoked);
  }
  // API tokens these tokens minted (an app's org keys) die with them.
  const children = await revokeOAuthChildren(
    trx,
    clock,
    rows.map((r) => r.id),
  );
  return {
    count: rows.length,
    hashes: [...rows, ...children].map((r) => r.token_hash),
    prefixes: [...rows, ...children].map((r) => r.prefix),
  };
}
