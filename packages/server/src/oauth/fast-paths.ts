import { type RawBuilder, sql } from 'kysely';
import type { Actor } from '../audit/log.js';
import { orderedId } from '../audit/ordered-id.js';
import type { Db } from '../db/connection.js';
import { executeGrouped } from '../db/group-commit.js';
import { addMs, type Clock } from '../lib/clock.js';
import { newId } from '../lib/secrets.js';
import { mintToken } from '../tokens/format.js';
import { ACCESS_TOKEN_TTL_MS, type IssuedTokens, REFRESH_TOKEN_TTL_MS } from './tokens.js';

/**
 * The token endpoint's common cases as one SQL statement each: consume the code (or rotate the
 * refresh token) only if every check holds, insert the new tokens, and write the audit event —
 * atomically, in a single round trip. When the statement changes nothing, the caller falls back to
 * the step-by-step path in its grant file, which finds out why (replay, reuse, expiry, mismatch)
 * and answers accordingly. Both paths take the same row lock, so races resolve the same way.
 * On the embedded database, concurrent exchanges and rotations commit together (db/group-commit.ts).
 */

interface NewTokens {
  at: ReturnType<typeof mintToken>;
  rt: ReturnType<typeof mintToken> | null;
  values: RawBuilder<unknown>;
}

function newTokens(clock: Clock, prefix: string, refresh: boolean): NewTokens {
  const now = clock.now();
  const at = mintToken('at', prefix);
  const rt = refresh ? mintToken('rt', prefix) : null;
  const row = (kind: 'at' | 'rt', t: ReturnType<typeof mintToken>, ttl: number) =>
    sql`(${newId()}::uuid, ${kind}::text, ${t.hash}::text, ${t.display}::text, ${addMs(now, ttl)}::timestamptz)`;
  const rows = [row('at', at, ACCESS_TOKEN_TTL_MS), ...(rt ? [row('rt', rt, REFRESH_TOKEN_TTL_MS)] : [])];
  return { at, rt, values: sql`(values ${sql.join(rows)}) as v(id, kind, token_hash, prefix, expires_at)` };
}

function issued(t: NewTokens, scopes: readonly string[]): IssuedTokens {
  return {
    accessToken: t.at.token,
    accessPrefix: t.at.display,
    refreshToken: t.rt?.token ?? null,
    refreshPrefix: t.rt?.display ?? null,
    expiresIn: ACCESS_TOKEN_TTL_MS / 1000,
    scopes,
  };
}

const scopesOf = (v: unknown): string[] =>
  typeof v === 'string' ? (JSON.parse(v) as string[]) : (v as string[]);

/** What a fast path issued, with whom the tokens act for (the ID token and JWT access token need it). */
export interface FastIssued extends IssuedTokens {
  familyId: string;
  userId: string | null;
  orgId: string;
  resource: string;
  /** The code's OpenID context (`oauth_codes.oidc`); null for plain OAuth and on refresh. */
  oidc: unknown;
}

/** Exchanges a code whose every check holds; null when none does (the caller then finds out why). */
export async function exchangeCode(
  db: Db,
  clock: Clock,
  who: Actor,
  e: {
    codeHash: string;
    clientId: string;
    redirectUri: string;
    resource: string;
    challenge: string;
    refresh: boolean;
    tokenPrefix: string;
  },
): Promise<FastIssued | null> {
  const now = clock.now();
  const family = newId();
  const t = newTokens(clock, e.tokenPrefix, e.refresh);
  const { rows } = await executeGrouped(
    db,
    sql<{ scopes: unknown; user_id: string | null; org_id: string; resource: string; oidc: unknown }>`
    with c as (
      update oauth_codes set consumed_at = ${now}::timestamptz, family_id = ${family}::uuid
      where code_hash = ${e.codeHash} and consumed_at is null and expires_at > ${now}::timestamptz
        and client_id = ${e.clientId} and redirect_uri = ${e.redirectUri} and resource = ${e.resource}
        and code_challenge = ${e.challenge}
        and exists (select 1 from oauth_grants g where g.id = oauth_codes.grant_id and g.revoked_at is null)
      returning grant_id, user_id, org_id, resource, scopes, oidc
    ), t as (
      insert into oauth_tokens (id, kind, token_hash, prefix, family_id, client_id, grant_id, user_id, org_id, resource, scopes, created_at, expires_at)
      select v.id, v.kind, v.token_hash, v.prefix, ${family}::uuid, ${e.clientId}, c.grant_id, c.user_id, c.org_id, c.resource, c.scopes, ${now}::timestamptz, v.expires_at
      from c cross join ${t.values}
      returning id
    ), a as (
      insert into audit_events (id, org_id, actor, action, target, ip, user_agent, created_at, data)
      select ${orderedId(now.getTime())}::uuid, c.org_id, ${who.actor}, 'oauth.token_issued', ${`client:${e.clientId}`},
        ${who.ip}, ${who.userAgent?.slice(0, 512) ?? null}, ${now}::timestamptz,
        jsonb_build_object('client_id', ${e.clientId}::text, 'grant_type', 'authorization_code', 'user_id', c.user_id,
          'resource', c.resource, 'scopes', c.scopes, 'access_token', ${t.at.display}::text, 'refresh_token', ${t.rt?.display ?? null}::text)
      from c
      returning id
    )
    select c.scopes, c.user_id, c.org_id, c.resource, c.oidc, (select count(*) from t) as tokens, (select count(*) from a) as audited from c`,
  );
  const row = rows[0];
  return row
    ? {
        ...issued(t, scopesOf(row.scopes)),
        familyId: family,
        userId: row.user_id,
        orgId: row.org_id,
        resource: row.resource,
        oidc: row.oidc,
      }
    : null;
}

/** Rotates a refresh token whose every check holds; null when none does (the caller then finds out why). */
export async function rotateRefresh(
  db: Db,
  clock: Clock,
  who: Actor,
  r: {
    tokenHash: string;
    clientId: string;
    resource: string | undefined;
    scopes: readonly string[] | undefined;
    tokenPrefix: string;
  },
): Promise<FastIssued | null> {
  const now = clock.now();
  const t = newTokens(clock, r.tokenPrefix, true);
  const narrowed = r.scopes ? JSON.stringify(r.scopes) : null;
  const { rows } = await executeGrouped(
    db,
    sql<{ scopes: unknown; family_id: string; user_id: string | null; org_id: string; resource: string }>`
    with old as (
      update oauth_tokens set rotated_at = ${now}::timestamptz
      where token_hash = ${r.tokenHash} and kind = 'rt' and client_id = ${r.clientId}
        and rotated_at is null and revoked_at is null and expires_at > ${now}::timestamptz
        and (${r.resource ?? null}::text is null or resource = ${r.resource ?? null}::text)
        and (${narrowed}::jsonb is null or scopes @> ${narrowed}::jsonb)
        and (user_id is null or exists (
          select 1 from memberships m where m.org_id = oauth_tokens.org_id and m.user_id = oauth_tokens.user_id))
        and (user_id is null or exists (
          select 1 from users u where u.id = oauth_tokens.user_id and u.disabled_at is null))
      returning family_id, grant_id, user_id, org_id, resource, prefix, scopes as held, coalesce(${narrowed}::jsonb, scopes) as scopes
    ), t as (
      -- A narrowing refresh narrows the access token only: the refresh token keeps its scope (RFC 6749 §6).
      insert into oauth_tokens (id, kind, token_hash, prefix, family_id, client_id, grant_id, user_id, org_id, resource, scopes, created_at, expires_at)
      select v.id, v.kind, v.token_hash, v.prefix, old.family_id, ${r.clientId}, old.grant_id, old.user_id, old.org_id, old.resource,
        case when v.kind = 'rt' then old.held else old.scopes end, ${now}::timestamptz, v.expires_at
      from old cross join ${t.values}
      returning id
    ), a as (
      insert into audit_events (id, org_id, actor, action, target, ip, user_agent, created_at, data)
      select ${orderedId(now.getTime())}::uuid, old.org_id, ${who.actor}, 'oauth.token_refreshed', ${`client:${r.clientId}`},
        ${who.ip}, ${who.userAgent?.slice(0, 512) ?? null}, ${now}::timestamptz,
        jsonb_build_object('client_id', ${r.clientId}::text, 'user_id', old.user_id, 'resource', old.resource, 'scopes', old.scopes,
          'previous', old.prefix, 'access_token', ${t.at.display}::text, 'refresh_token', ${t.rt!.display}::text)
      from old
      returning id
    )
    select old.scopes, old.family_id, old.user_id, old.org_id, old.resource, (select count(*) from t) as tokens, (select count(*) from a) as audited from old`,
  );
  const row = rows[0];
  return row
    ? {
        ...issued(t, scopesOf(row.scopes)),
        familyId: row.family_id,
        userId: row.user_id,
        orgId: row.org_id,
        resource: row.resource,
        oidc: null,
      }
    : null;
}
