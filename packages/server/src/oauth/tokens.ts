import type { Kysely, Transaction } from 'kysely';
import { type Actor, audit } from '../audit/log.js';
import type { Insertable } from 'kysely';
import type { Database, OAuthTokensTable } from '../db/schema.js';
import { addMs, type Clock, DAY, HOUR } from '../lib/clock.js';
import { newId } from '../lib/secrets.js';
import { hashToken, mintToken } from '../tokens/format.js';
import { revokeOAuthChildren } from '../tokens/queries.js';

type Executor = Kysely<Database> | Transaction<Database>;

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

/**
 * Mints an access token (and a refresh token when `refresh`) in `familyId`. Stores hashes only.
 * The refresh token carries `refreshScopes` when given (a narrowing refresh narrows the access
 * token only, RFC 6749 §6), else the subject's scopes.
 */
export async function issueTokens(
  trx: Executor,
  clock: Clock,
  o: {
    familyId: string;
    subject: TokenSubject;
    refresh: boolean;
    refreshScopes?: readonly string[];
    tokenPrefix: string;
  },
): Promise<IssuedTokens> {
  const now = clock.now();
  const at = mintToken('at', o.tokenPrefix);
  const rt = o.refresh ? mintToken('rt', o.tokenPrefix) : null;
  const base = {
    family_id: o.familyId,
    client_id: o.subject.clientId,
    grant_id: o.subject.grantId,
    user_id: o.subject.userId,
    org_id: o.subject.orgId,
    resource: o.subject.resource,
    scopes: JSON.stringify(o.subject.scopes),
    created_at: now,
  };
  const rows: Insertable<OAuthTokensTable>[] = [
    {
      ...base,
      id: newId(),
      kind: 'at',
      token_hash: at.hash,
      prefix: at.display,
      expires_at: addMs(now, ACCESS_TOKEN_TTL_MS),
    },
  ];
  if (rt) {
    rows.push({
      ...base,
      id: newId(),
      kind: 'rt',
      scopes: JSON.stringify(o.refreshScopes ?? o.subject.scopes),
      token_hash: rt.hash,
      prefix: rt.display,
      expires_at: addMs(now, REFRESH_TOKEN_TTL_MS),
    });
  }
  await trx.insertInto('oauth_tokens').values(rows).execute();
  return {
    accessToken: at.token,
    accessPrefix: at.display,
    refreshToken: rt?.token ?? null,
    refreshPrefix: rt?.display ?? null,
    expiresIn: ACCESS_TOKEN_TTL_MS / 1000,
    scopes: o.subject.scopes,
  };
}

/**
 * Issues a new token family for a grant and audits it as `oauth.token_issued`, in `trx`: what
 * the authorization-code, device-code and client-credentials grants share.
 */
export async function issueAndAudit(
  trx: Executor,
  clock: Clock,
  who: Actor,
  o: { grantType: string; familyId: string; subject: TokenSubject; refresh: boolean; tokenPrefix: string },
): Promise<IssuedTokens> {
  const issued = await issueTokens(trx, clock, o);
  const s = o.subject;
  await audit(trx, clock, who, {
    orgId: s.orgId,
    action: 'oauth.token_issued',
    target: `client:${s.clientId}`,
    data: {
      client_id: s.clientId,
      grant_type: o.grantType,
      user_id: s.userId,
      resource: s.resource,
      scopes: s.scopes,
      access_token: issued.accessPrefix,
      refresh_token: issued.refreshPrefix,
    },
  });
  return issued;
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

/** Revokes every live token matching `where`; returns their hashes (to drop from caches) and prefixes. */
async function revokeWhere(
  trx: Executor,
  clock: Clock,
  column: 'family_id' | 'grant_id' | 'client_id' | 'id',
  value: string,
): Promise<{ hashes: string[]; prefixes: string[] }> {
  const rows = await trx
    .updateTable('oauth_tokens')
    .set({ revoked_at: clock.now() })
    .where(column, '=', value)
    .where('revoked_at', 'is', null)
    .returning(['id', 'token_hash', 'prefix'])
    .execute();
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
export async function findLiveTokenByHash(db: Executor, clock: Clock, hash: string) {
  return (
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
      .where('t.token_hash', '=', hash)
      .where('t.revoked_at', 'is', null)
      .where('t.rotated_at', 'is', null)
      .where('t.expires_at', '>', clock.now())
      // A token acting for a disabled account is no credential while it stays disabled.
      .where('u.disabled_at', 'is', null)
      .executeTakeFirst()
  );
}
