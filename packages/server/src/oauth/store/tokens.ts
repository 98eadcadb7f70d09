import { type RawBuilder, sql } from 'kysely';
import { type Actor } from '../../auth/principal.js';
import { type AuditColumns, auditColumns } from '../../audit/log.js';
import { builtOnce } from '../../db/built-once.js';
import { addMs, type Clock, DAY, HOUR } from '../../lib/clock.js';
import { newId } from '../../lib/secrets.js';
import { hashToken, mintToken } from '../../tokens/format.js';
import { revokeOAuthTokens } from '../../tokens/queries.js';
import type { Executor } from '../../db/executor.js';
import { executeRows } from '../../db/group-commit.js';
import { readRows } from '../../db/read-rows.js';
import type { RowsStatement } from '../../db/rows-statement.js';
import type { Role } from '../../db/schema/orgs.js';

export const ACCESS_TOKEN_TTL_MS = HOUR;
export const REFRESH_TOKEN_TTL_MS = 90 * DAY;

/** What every token of a family carries. */
export interface TokenSubject {
  clientId: string;
  grantId: string | null;
  userId: string | null;
  orgId: string;
  resource: string;
  scopes: readonly string[];
}

export interface IssuedTokens {
  accessToken: string;
  accessPrefix: string;
  refreshToken: string | null;
  refreshPrefix: string | null;
  expiresIn: number;
  scopes: readonly string[];
}

/** How a grant's statement records the family it issues. */
export type IssueEvent = 'issued' | 'refreshed';

/**
 * A row of an issuing rows statement, as its JSON array holds it (dates as ISO strings): the new
 * tokens (hashes only; the refresh token's columns null when none is issued) and the audit event's
 * columns. `ISSUE_COLUMNS` reads it back.
 */
export interface IssueValues extends AuditColumns {
  client_id: string;
  /** `issued` events: the grant type they name. */
  grant_type: string | null;
  at_id: string;
  at_hash: string;
  at_prefix: string;
  at_expires_at: Date;
  rt_id: string | null;
  rt_hash: string | null;
  rt_prefix: string | null;
  rt_expires_at: Date | null;
}

/** `IssueValues` as `jsonb_to_record` column definitions. */
const ISSUE_COLUMNS = sql`now timestamptz, client_id text, grant_type text,
  at_id uuid, at_hash text, at_prefix text, at_expires_at timestamptz,
  rt_id uuid, rt_hash text, rt_prefix text, rt_expires_at timestamptz,
  audit_id uuid, actor text, action text, target text, ip text, user_agent text`;

/**
 * Mints the tokens a grant issues (an access token, and a refresh token when `refresh`) and the
 * row its statement reads; `issued` gives the plaintexts to answer with.
 */
export function issueValues(
  clock: Clock,
  who: Actor,
  o: { clientId: string; refresh: boolean; tokenPrefix: string; event: IssueEvent; grantType?: string },
) {
  const now = clock.now();
  const at = mintToken('at', o.tokenPrefix);
  const rt = o.refresh ? mintToken('rt', o.tokenPrefix) : null;
  // Object.assign, not a spread followed by properties: on Node 20 each property written after a
  // spread takes V8's slow path (about 0.6 µs each; this object was 9 µs to build).
  const values: IssueValues = Object.assign(
    auditColumns(who, now, {
      action: o.event === 'issued' ? 'oauth.token_issued' : 'oauth.token_refreshed',
      target: `client:${o.clientId}`,
    }),
    {
      client_id: o.clientId,
      grant_type: o.grantType ?? null,
      at_id: newId(),
      at_hash: at.hash,
      at_prefix: at.display,
      at_expires_at: addMs(now, ACCESS_TOKEN_TTL_MS),
      rt_id: rt ? newId() : null,
      rt_hash: rt?.hash ?? null,
      rt_prefix: rt?.display ?? null,
      rt_expires_at: rt ? addMs(now, REFRESH_TOKEN_TTL_MS) : null,
    },
  );
  const issued = (scopes: readonly string[]): IssuedTokens => ({
    accessToken: at.token,
    accessPrefix: at.display,
    refreshToken: rt?.token ?? null,
    refreshPrefix: rt?.display ?? null,
    expiresIn: ACCESS_TOKEN_TTL_MS / 1000,
    scopes,
  });
  return { values, issued };
}

/**
 * The head of an issuing rows statement: CTE `v`, each row of the JSON array `rows` (`IssueValues`
 * with the grant's own fields, whose column definitions are `more`) with its 1-based position `n`.
 */
export function issuingRows(rows: unknown, more: RawBuilder<unknown>) {
  return sql`v as (
      select e.n::int4 as n, r.*
      from jsonb_array_elements(${rows}::jsonb) with ordinality as e(row, n)
      cross join lateral jsonb_to_record(e.row) as r(${ISSUE_COLUMNS}, ${more})
    )`;
}

/**
 * The tail of an issuing rows statement (built once: `db/built-once.ts`), after `issuingRows`'s
 * `v` and a CTE `s` of the families to issue, at most one per row of `v`: `n` (the row's),
 * `family_id, grant_id, user_id, org_id, resource`, `scopes` (the access token's), `held` (the
 * refresh token's: a narrowing refresh narrows the access token only, RFC 6749 §6) and `previous`
 * (the rotated refresh token's prefix, or null). This appends `t`, which inserts each family's
 * access token (and its refresh token, when the row has one), and `a`, its audit event; a row of
 * `v` with none in `s` writes neither. Only hashes are stored.
 */
export function issuingTail(event: IssueEvent) {
  const data =
    event === 'issued'
      ? sql`jsonb_build_object('client_id', v.client_id, 'grant_type', v.grant_type,
          'user_id', s.user_id, 'resource', s.resource, 'scopes', s.scopes,
          'access_token', v.at_prefix, 'refresh_token', v.rt_prefix)`
      : sql`jsonb_build_object('client_id', v.client_id, 'user_id', s.user_id, 'resource', s.resource,
          'scopes', s.scopes, 'previous', s.previous,
          'access_token', v.at_prefix, 'refresh_token', v.rt_prefix)`;
  return sql`t as (
      insert into oauth_tokens (id, kind, token_hash, prefix, family_id, client_id, grant_id, user_id, org_id, resource, scopes, created_at, expires_at)
      select x.id, x.kind, x.token_hash, x.prefix, s.family_id, v.client_id, s.grant_id, s.user_id, s.org_id, s.resource,
        case when x.kind = 'rt' then s.held else s.scopes end, v.now, x.expires_at
      from s join v on v.n = s.n
      cross join lateral (values (v.at_id, 'at'::text, v.at_hash, v.at_prefix, v.at_expires_at),
        (v.rt_id, 'rt'::text, v.rt_hash, v.rt_prefix, v.rt_expires_at)) as x(id, kind, token_hash, prefix, expires_at)
      where x.id is not null
    ), a as (
      insert into audit_events (id, org_id, actor, action, target, ip, user_agent, created_at, data)
      select v.audit_id, s.org_id, v.actor, v.action, v.target, v.ip, v.user_agent, v.now, ${data}
      from s join v on v.n = s.n
    )`;
}

interface IssueFor {
  grantType: string;
  subject: TokenSubject;
  /** Issue a refresh token beside the access token. */
  refresh: boolean;
  tokenPrefix: string;
}

/**
 * Issues a new token family for a subject known up front (the client-credentials and device-code
 * grants) and audits it as `oauth.token_issued`: one row of `ISSUE_ROWS`, in `db` (a transaction
 * when the grant changes other rows with it). Outside a transaction it commits with concurrent
 * grants, and is written in one execution with theirs (`executeRows`).
 *
 * With `clientVersion`, the tokens are written only while the client's stored row is still that
 * version (`Client.version`): null when it is not, and then nothing was written.
 */
export function issueTokens(
  db: Executor,
  clock: Clock,
  who: Actor,
  o: IssueFor & { clientVersion: string | null },
): Promise<IssuedTokens | null>;
export function issueTokens(db: Executor, clock: Clock, who: Actor, o: IssueFor): Promise<IssuedTokens>;
export async function issueTokens(
  db: Executor,
  clock: Clock,
  who: Actor,
  o: IssueFor & { clientVersion?: string | null },
): Promise<IssuedTokens | null> {
  const s = o.subject;
  const { values, issued } = issueValues(clock, who, {
    clientId: s.clientId,
    refresh: o.refresh,
    tokenPrefix: o.tokenPrefix,
    event: 'issued',
    grantType: o.grantType,
  });
  const row: IssueRow = Object.assign(values, {
    family_id: newId(),
    grant_id: s.grantId,
    user_id: s.userId,
    org_id: s.orgId,
    resource: s.resource,
    scopes: s.scopes,
    // Given a version key at all, checked: an absent version then matches no row.
    checked: 'clientVersion' in o,
    version: o.clientVersion ?? null,
  });
  const written = await executeRows(db, ISSUE_ROWS, [row]);
  return written.length === 0 ? null : issued(s.scopes);
}

/** A family issued for a subject known up front, as `ISSUE_ROWS` reads it. */
interface IssueRow extends IssueValues {
  family_id: string;
  grant_id: string | null;
  user_id: string | null;
  org_id: string;
  resource: string;
  scopes: readonly string[];
  /** Whether the row is written only while the client's row is `version` (its `xmin`). */
  checked: boolean;
  version: string | null;
}

/**
 * Writes token families and their audit events from a JSON array of `IssueRow`s:
 * each family's tokens with its event, or none of them. A checked row is written only while its
 * client's stored row is the version it names; a deleted client, or one changed since, matches
 * none. Only hashes are stored. Answers the positions of the rows written (`RowsStatement`).
 */
const ISSUE_ROWS: RowsStatement = builtOnce(
  (_db, p: { rows: string }) =>
    sql<{ n: number }>`with ${issuingRows(
      p.rows,
      sql`family_id uuid, grant_id uuid, user_id uuid, org_id uuid, resource text, scopes jsonb,
        checked boolean, version xid`,
    )}, s as (
      select v.n, v.family_id, v.grant_id, v.user_id, v.org_id, v.resource, v.scopes, v.scopes as held,
        null::text as previous
      -- A lateral subquery: an index probe per checked row, never a hash of every client.
      from v left join lateral (
        select true as ok from oauth_clients c
        where v.checked and c.id = v.client_id and c.xmin = v.version limit 1
      ) same on true
      where not v.checked or same.ok
    ), ${issuingTail('issued')}
    select n from s`,
);

/** The token endpoint's success body (RFC 6749 §5.1). */
export function tokenResponse(t: IssuedTokens) {
  return {
    access_token: t.accessToken,
    token_type: 'Bearer',
    expires_in: t.expiresIn,
    scope: t.scopes.join(' '),
    ...(t.refreshToken ? { refresh_token: t.refreshToken } : {}),
  };
}

export const revokeFamily = (trx: Executor, clock: Clock, familyId: string) =>
  revokeOAuthTokens(trx, clock, { family_id: familyId });
export const revokeGrantTokens = (trx: Executor, clock: Clock, grantId: string) =>
  revokeOAuthTokens(trx, clock, { grant_id: grantId });
export const revokeClientTokens = (trx: Executor, clock: Clock, clientId: string) =>
  revokeOAuthTokens(trx, clock, { client_id: clientId });
export const revokeToken = (trx: Executor, clock: Clock, id: string) => revokeOAuthTokens(trx, clock, { id });

/** A stored token by its plaintext (any state), or undefined. */
export function findTokenRow(db: Executor, token: string) {
  return db
    .selectFrom('oauth_tokens')
    .selectAll()
    .where('token_hash', '=', hashToken(token))
    .executeTakeFirst();
}

/** A stored token by its hash (any state), or undefined. */
export function findTokenRowByHash(db: Executor, hash: string) {
  return db.selectFrom('oauth_tokens').selectAll().where('token_hash', '=', hash).executeTakeFirst();
}

export type TokenRow = NonNullable<Awaited<ReturnType<typeof findTokenRow>>>;

export const scopesOf = (v: unknown): string[] =>
  typeof v === 'string' ? (JSON.parse(v) as string[]) : (v as string[]);

/** A live OAuth token as validation reads it, with its org and its person (when it acts as one). */
export interface LiveOAuthTokenRow {
  id: string;
  kind: 'at' | 'rt';
  prefix: string;
  client_id: string;
  user_id: string | null;
  org_id: string;
  resource: string;
  scopes: string[] | string;
  created_at: Date;
  expires_at: Date;
  org_slug: string;
  org_name: string;
  /** The person's current role in the token's org; null when they have left it. */
  role: Role | null;
  user_email: string | null;
  user_name: string | null;
  user_email_verified_at: Date | null;
}

/**
 * A live token by hash with the holder's current membership role in the token's org (null when
 * the person has left it, for tokens that act as a person). Undefined when no live token has it.
 * Concurrent lookups share one execution (`readRows`).
 */
export async function findLiveTokenByHash(
  db: Executor,
  clock: Clock,
  hash: string,
): Promise<LiveOAuthTokenRow | undefined> {
  const [row] = await readRows(db, LIVE_OAUTH_TOKENS, [{ hash, now: clock.now() }]);
  return row;
}

/** Live tokens by hash, one row per `{ hash, now }` found (`RowsStatement`). */
const LIVE_OAUTH_TOKENS: RowsStatement<LiveOAuthTokenRow> = builtOnce(
  (_db, p: { rows: string }) =>
    sql<LiveOAuthTokenRow & { n: number }>`
    select k.n::int4 as n, found.*
    from jsonb_array_elements(${p.rows}::jsonb) with ordinality as k(row, n)
    cross join lateral jsonb_to_record(k.row) as r(hash text, now timestamptz)
    cross join lateral (
      select t.id, t.kind, t.prefix, t.client_id, t.user_id, t.org_id, t.resource, t.scopes,
        t.created_at, t.expires_at, o.slug as org_slug, o.name as org_name, m.role,
        u.email as user_email, u.name as user_name, u.email_verified_at as user_email_verified_at
      from oauth_tokens t
      join orgs o on o.id = t.org_id
      left join memberships m on m.org_id = t.org_id and m.user_id = t.user_id
      left join users u on u.id = t.user_id
      where t.token_hash = r.hash
        and t.revoked_at is null
        and t.rotated_at is null
        and t.expires_at > r.now
        -- A token acting for a disabled account is no credential while it stays disabled.
        and u.disabled_at is null
      -- One row per hash (a unique index); the limit also keeps each lookup an index probe.
      limit 1
    ) found`,
);
