import { type RawBuilder, sql } from 'kysely';
import { type Actor } from '../../auth/principal.js';
import { auditFrom, type AuditRowValues, auditRowValues } from '../../audit/log.js';
import { builtOnce } from '../../db/built-once.js';
import { addMs, type Clock, DAY, HOUR } from '../../lib/clock.js';
import { newId } from '../../lib/secrets.js';
import { hashToken, mintToken } from '../../tokens/format.js';
import { revokeOAuthChildren } from '../../tokens/queries.js';
import type { Executor } from '../../db/executor.js';
import { clientIsCurrent } from './clients.js';

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

/** The values an issuing statement binds: the new tokens (hashes only) and the audit event's. */
export interface IssueValues extends AuditRowValues {
  clientId: string;
  atId: string;
  atHash: string;
  atPrefix: string;
  atExpiresAt: Date;
  /** Only when the statement issues a refresh token too. */
  rtId: string | null;
  rtHash: string | null;
  rtPrefix: string | null;
  rtExpiresAt: Date | null;
  /** `issued` events: the grant type they name. */
  grantType: string | null;
}

/**
 * Mints the tokens a grant issues (an access token, and a refresh token when `refresh`) and the
 * values its statement binds; `issued` gives the plaintexts to answer with.
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
    auditRowValues(who, now, {
      action: o.event === 'issued' ? 'oauth.token_issued' : 'oauth.token_refreshed',
      target: `client:${o.clientId}`,
    }),
    {
      clientId: o.clientId,
      atId: newId(),
      atHash: at.hash,
      atPrefix: at.display,
      atExpiresAt: addMs(now, ACCESS_TOKEN_TTL_MS),
      rtId: rt ? newId() : null,
      rtHash: rt?.hash ?? null,
      rtPrefix: rt?.display ?? null,
      rtExpiresAt: rt ? addMs(now, REFRESH_TOKEN_TTL_MS) : null,
      grantType: o.grantType ?? null,
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
 * The token rows an issuing statement inserts, as SQL `values` rows over `v`'s placeholders:
 * `id, kind, token_hash, prefix, expires_at`, then `rest` (columns every row shares).
 */
function tokenRows(v: IssueValues, refresh: boolean, rest: RawBuilder<unknown> = sql``) {
  const at = sql`(${v.atId}::uuid, 'at'::text, ${v.atHash}::text, ${v.atPrefix}::text, ${v.atExpiresAt}::timestamptz${rest})`;
  if (!refresh) return at;
  const rt = sql`(${v.rtId}::uuid, 'rt'::text, ${v.rtHash}::text, ${v.rtPrefix}::text, ${v.rtExpiresAt}::timestamptz${rest})`;
  return sql.join([at, rt]);
}

/**
 * Where OAuth tokens issued from a checked row (a code, a refresh token) are written and audited:
 * the tail of a grant's single SQL statement, over the placeholders of `IssueValues` (the grant's
 * statement is built once: `db/built-once.ts`). The statement ends in a CTE `s` of at most one row
 * — the family to issue: `family_id, grant_id, user_id, org_id, resource`, `scopes` (the access
 * token's), `held` (the refresh token's: a narrowing refresh narrows the access token only, RFC
 * 6749 §6) and `previous` (the rotated refresh token's prefix, or null). This appends `t`, which
 * inserts the access token (and a refresh token when `refresh`), and `a`, the audit event; when `s`
 * is empty, neither writes. Only hashes are stored.
 */
export function issuingTail(v: IssueValues, shape: { refresh: boolean; event: IssueEvent }) {
  const data =
    shape.event === 'issued'
      ? sql`jsonb_build_object('client_id', ${v.clientId}::text, 'grant_type', ${v.grantType}::text,
          'user_id', s.user_id, 'resource', s.resource, 'scopes', s.scopes,
          'access_token', ${v.atPrefix}::text, 'refresh_token', ${v.rtPrefix}::text)`
      : sql`jsonb_build_object('client_id', ${v.clientId}::text, 'user_id', s.user_id, 'resource', s.resource,
          'scopes', s.scopes, 'previous', s.previous,
          'access_token', ${v.atPrefix}::text, 'refresh_token', ${v.rtPrefix}::text)`;
  return sql`t as (
      insert into oauth_tokens (id, kind, token_hash, prefix, family_id, client_id, grant_id, user_id, org_id, resource, scopes, created_at, expires_at)
      select v.id, v.kind, v.token_hash, v.prefix, s.family_id, ${v.clientId}::text, s.grant_id, s.user_id, s.org_id, s.resource,
        case when v.kind = 'rt' then s.held else s.scopes end, ${v.now}::timestamptz, v.expires_at
      from s cross join (values ${tokenRows(v, shape.refresh)}) as v(id, kind, token_hash, prefix, expires_at)
      returning id
    ), a as (
      ${auditFrom(v, { orgId: sql`s.org_id`, data, from: sql`s` })}
      returning id
    )`;
}

/**
 * Issues a new token family for a subject known up front and audits it as `oauth.token_issued`,
 * in `db` (a transaction when the grant changes other rows with it): the device-code and
 * client-credentials grants, through the same statement tail as the others.
 */
export async function issueAndAudit(
  db: Executor,
  clock: Clock,
  who: Actor,
  o: IssueFor,
): Promise<IssuedTokens> {
  const s = issueStatement(db, clock, who, o);
  await db.executeQuery(s.query);
  return s.issued;
}

interface IssueFor {
  grantType: string;
  familyId: string;
  subject: TokenSubject;
  refresh: boolean;
  tokenPrefix: string;
  /**
   * Issue only while the client's stored row is this version (`Client.version`; access tokens
   * only): the statement then answers one row when it issued and none when the client changed.
   */
  clientVersion?: string | null;
}

type IssueStatementValues = IssueValues & {
  familyId: string;
  grantId: string | null;
  userId: string | null;
  orgId: string;
  resource: string;
  scopes: string;
  data: string;
};

/**
 * The statement that issues a family for a subject known up front: the token rows and the audit
 * event as plain values, the same rows and event as `issuingTail` writes (one statement: both or
 * neither). Without the tail's CTE of one row cross-joined to the tokens and the event's detail
 * built in SQL, the embedded database spends about a quarter less on it.
 */
const issueSql = (refresh: boolean) =>
  builtOnce((_db, v: IssueStatementValues) => {
    const subject = sql`, ${v.familyId}::uuid, ${v.clientId}::text, ${v.grantId}::uuid, ${v.userId}::uuid,
      ${v.orgId}::uuid, ${v.resource}::text, ${v.scopes}::jsonb, ${v.now}::timestamptz`;
    return sql`with t as (
      insert into oauth_tokens (id, kind, token_hash, prefix, expires_at, family_id, client_id, grant_id, user_id, org_id, resource, scopes, created_at)
      values ${tokenRows(v, refresh, subject)}
    )
    ${auditFrom(v, { orgId: sql`${v.orgId}::uuid`, data: sql`${v.data}::jsonb`, from: sql`(values (1)) as one (n)` })}`;
  });
const ISSUE = { access: issueSql(false), withRefresh: issueSql(true) };

/**
 * `issueSql`'s access token and event, written only while the client's stored row is the version
 * the request authenticated against (`clientIsCurrent`): one row back when issued, none when the
 * client was changed or deleted since, and then nothing was written.
 */
const ISSUE_IF_CLIENT_CURRENT = builtOnce(
  (_db, v: IssueStatementValues & { clientVersion: string | null }) => {
    const subject = sql`, ${v.familyId}::uuid, ${v.clientId}::text, ${v.grantId}::uuid, ${v.userId}::uuid,
      ${v.orgId}::uuid, ${v.resource}::text, ${v.scopes}::jsonb, ${v.now}::timestamptz`;
    return sql<{ issued: number }>`with c as (
      select 1 as current where ${clientIsCurrent(v.clientId, v.clientVersion)}
    ), t as (
      insert into oauth_tokens (id, kind, token_hash, prefix, expires_at, family_id, client_id, grant_id, user_id, org_id, resource, scopes, created_at)
      select v.* from (values ${tokenRows(v, false, subject)}) as v cross join c
    )
    ${auditFrom(v, { orgId: sql`${v.orgId}::uuid`, data: sql`${v.data}::jsonb`, from: sql`c` })}
    returning 1 as issued`;
  },
);

/**
 * `issueAndAudit` as one statement to run: for a grant that changes nothing else, so the
 * statement needs no transaction of its own and can commit with others (`executeGrouped`).
 */
export function issueStatement(db: Executor, clock: Clock, who: Actor, o: IssueFor) {
  const s = o.subject;
  const { values, issued } = issueValues(clock, who, {
    clientId: s.clientId,
    refresh: o.refresh,
    tokenPrefix: o.tokenPrefix,
    event: 'issued',
    grantType: o.grantType,
  });
  // The event's detail, as `issuingTail` builds it in SQL from the same values.
  const data = JSON.stringify({
    client_id: s.clientId,
    grant_type: o.grantType,
    user_id: s.userId,
    resource: s.resource,
    scopes: s.scopes,
    access_token: values.atPrefix,
    refresh_token: values.rtPrefix,
  });
  const bound = Object.assign(values, {
    familyId: o.familyId,
    grantId: s.grantId,
    userId: s.userId,
    orgId: s.orgId,
    resource: s.resource,
    scopes: JSON.stringify(s.scopes),
    data,
  });
  if (o.clientVersion !== undefined) {
    if (o.refresh) throw new Error('issueStatement: a client-version check issues access tokens only');
    const query = ISSUE_IF_CLIENT_CURRENT.bind(Object.assign(bound, { clientVersion: o.clientVersion }), db);
    return { query, issued: issued(s.scopes) };
  }
  const query = (o.refresh ? ISSUE.withRefresh : ISSUE.access).bind(bound, db);
  return { query, issued: issued(s.scopes) };
}

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

/** Passes of a revocation at most (each one past the first needs a rotation racing it). */
const MAX_REVOKE_PASSES = 10;

/** Revokes every live token matching `where`; returns their hashes (to drop from caches) and prefixes. */
async function revokeWhere(
  trx: Executor,
  clock: Clock,
  column: 'family_id' | 'grant_id' | 'client_id' | 'id',
  value: string,
): Promise<{ hashes: string[]; prefixes: string[] }> {
  // A rotation or exchange that commits while this runs issues rows its snapshot cannot see (it
  // waited on the row the rotation locked, then went on with the snapshot it started with): go
  // round again until a pass finds nothing alive, so nothing issued in the race outlives the rest.
  const rows: { id: string; token_hash: string; prefix: string }[] = [];
  for (let pass = 0; pass < MAX_REVOKE_PASSES; pass++) {
    const revoked = await trx
      .updateTable('oauth_tokens')
      .set({ revoked_at: clock.now() })
      .where(column, '=', value)
      .where('revoked_at', 'is', null)
      .returning(['id', 'token_hash', 'prefix'])
      .execute();
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
    hashes: [...rows, ...children].map((r) => r.token_hash),
    prefixes: [...rows, ...children].map((r) => r.prefix),
  };
}

export const revokeFamily = (trx: Executor, clock: Clock, familyId: string) =>
  revokeWhere(trx, clock, 'family_id', familyId);
export const revokeGrantTokens = (trx: Executor, clock: Clock, grantId: string) =>
  revokeWhere(trx, clock, 'grant_id', grantId);
export const revokeClientTokens = (trx: Executor, clock: Clock, clientId: string) =>
  revokeWhere(trx, clock, 'client_id', clientId);
export const revokeToken = (trx: Executor, clock: Clock, id: string) => revokeWhere(trx, clock, 'id', id);

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

/**
 * A live token by hash with the holder's current membership role in the token's org (null when
 * the person has left it, for tokens that act as a person). Undefined when no live token has it.
 */
export function findLiveTokenByHash(db: Executor, clock: Clock, hash: string) {
  return liveTokenByHash.first(db, { hash, now: clock.now() });
}

const liveTokenByHash = builtOnce((db, p: { hash: string; now: Date }) =>
  db
    .selectFrom('oauth_tokens as t')
    .innerJoin('orgs as o', 'o.id', 't.org_id')
    .leftJoin('memberships as m', (j) =>
      j.onRef('m.org_id', '=', 't.org_id').onRef('m.user_id', '=', 't.user_id'),
    )
    .leftJoin('users as u', 'u.id', 't.user_id')
    .select([
      't.id',
      't.kind',
      't.prefix',
      't.client_id',
      't.user_id',
      't.org_id',
      't.resource',
      't.scopes',
      't.created_at',
      't.expires_at',
      'o.slug as org_slug',
      'o.name as org_name',
      'm.role as role',
      'u.email as user_email',
      'u.name as user_name',
      'u.email_verified_at as user_email_verified_at',
    ])
    .where('t.token_hash', '=', p.hash)
    .where('t.revoked_at', 'is', null)
    .where('t.rotated_at', 'is', null)
    .where('t.expires_at', '>', p.now)
    // A token acting for a disabled account is no credential while it stays disabled.
    .where('u.disabled_at', 'is', null),
);
