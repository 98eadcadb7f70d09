import { sql } from 'kysely';
import { type Actor } from '../../auth/principal.js';
import { audit } from '../../audit/log.js';
import type { Db } from '../../db/connection.js';
import { builtOnce } from '../../db/built-once.js';
import { executeGrouped } from '../../db/group-commit.js';
import type { Clock } from '../../lib/clock.js';
import { personTokenResponse } from '../oidc/token-response.js';
import { hashToken, parseToken } from '../../tokens/format.js';
import { OAuthError } from '../errors.js';
import { parseScope, PROTOCOL_SCOPES } from '../scope.js';
import {
  type IssuedTokens,
  type IssueValues,
  issueValues,
  issuingTail,
  revokeFamily,
  scopesOf,
} from '../store/tokens.js';
import type { Grant, GrantRequest } from './types.js';

/** Why a refresh token was not rotated. `reused`: it was rotated before, which revokes its family. */
type Refusal =
  | 'unknown'
  | 'reused'
  | 'expired'
  | 'resource_mismatch'
  | 'scope_widened'
  | 'not_member'
  | 'account_disabled';

const PROTOCOL = JSON.stringify(PROTOCOL_SCOPES);

const invalidGrant = () =>
  new OAuthError('invalid_grant', 'The refresh token is invalid, expired or revoked.');

/** The answer to each refusal. */
const ERRORS: Record<Refusal, () => OAuthError> = {
  unknown: invalidGrant,
  reused: invalidGrant,
  expired: invalidGrant,
  // The person left the org, or an instance admin disabled the account: their apps get no new tokens.
  not_member: invalidGrant,
  account_disabled: invalidGrant,
  resource_mismatch: () =>
    new OAuthError('invalid_target', 'A refresh token serves only the resource it was issued for.'),
  scope_widened: () => new OAuthError('invalid_scope', 'A refresh may narrow the scopes, never widen them.'),
};

interface TokenRow {
  client_id: string;
  family_id: string;
  user_id: string | null;
  org_id: string;
  resource: string;
  prefix: string;
  /** The access token's scopes: what the request named (narrowed), else all the token holds. */
  scopes: unknown;
}

type Outcome = { refusal: Refusal; row?: TokenRow } | { refusal: null; row: TokenRow; issued: IssuedTokens };

interface Rotation {
  tokenHash: string;
  clientId: string;
  resource: string | undefined;
  /** The scopes the request names, or undefined for all the token holds. */
  named: readonly string[] | undefined;
  tokenPrefix: string;
}

/**
 * The whole rule, as one SQL statement: read the refresh token, say why it cannot be rotated (the
 * checks in the order they are answered), and when nothing is wrong mark it rotated and issue its
 * successor with an access token and the audit event — atomically, in one round trip. Rotating is
 * conditional on the token being neither rotated nor revoked yet, so of two concurrent refreshes
 * one rotates and the other writes nothing and asks again: then it sees a rotated token, reuse.
 *
 * Scopes (RFC 6749 §6): protocol scopes the grant does not hold are dropped from what is named
 * (clients send `offline_access` out of habit), those it holds are kept; naming only dropped ones
 * asks for everything held. Any other scope beyond the grant is `scope_widened`. A narrowing
 * applies to the new access token; the new refresh token keeps what the old one held.
 */
async function rotate(db: Db, clock: Clock, who: Actor, r: Rotation): Promise<Outcome> {
  // A token rotated or revoked by a concurrent request after this statement read it: ask again,
  // and the second reading names it (`reused` or `unknown`).
  for (let attempt = 0; attempt < 2; attempt++) {
    const out = await rotateOnce(db, clock, who, r);
    if (out !== 'raced') return out;
  }
  return { refusal: 'unknown' };
}

type RotationValues = IssueValues & {
  tokenHash: string;
  resource: string | null;
  named: string | null;
  protocol: string;
};

/**
 * The rotation statement. `narrowing`: the request names scopes. Most refreshes name none, and the
 * scope subquery would cost on every one of them, so that part is in the statement only when named.
 */
const rotationSql = (narrowing: boolean) =>
  builtOnce(
    (_db, v: RotationValues) => sql<TokenRow & { refusal: Refusal | null; rotated: string | number }>`
    with cur as (
      select * from oauth_tokens where token_hash = ${v.tokenHash}::text
    ), chk as (
      select cur.*, ${narrowing ? sql`case when jsonb_array_length(k.kept) = 0 then cur.scopes else k.kept end` : sql`cur.scopes`} as access_scopes,
        case
          when cur.kind <> 'rt' or cur.client_id <> ${v.clientId}::text or cur.revoked_at is not null then 'unknown'
          when cur.rotated_at is not null then 'reused'
          when cur.expires_at <= ${v.now}::timestamptz then 'expired'
          when ${v.resource}::text is not null and cur.resource <> ${v.resource}::text
            then 'resource_mismatch'
          ${narrowing ? sql`when not (cur.scopes @> k.kept) then 'scope_widened'` : sql``}
          when cur.user_id is not null and not exists (
            select 1 from memberships m where m.org_id = cur.org_id and m.user_id = cur.user_id) then 'not_member'
          when cur.user_id is not null and not exists (
            select 1 from users u where u.id = cur.user_id and u.disabled_at is null) then 'account_disabled'
        end as refusal
      from cur ${
        narrowing
          ? sql`cross join lateral (
        select coalesce(jsonb_agg(n.scope order by n.i), '[]'::jsonb) as kept
        from jsonb_array_elements_text(${v.named}::jsonb) with ordinality as n(scope, i)
        where cur.scopes @> jsonb_build_array(n.scope) or not (${v.protocol}::jsonb @> jsonb_build_array(n.scope))
      ) k`
          : sql``
      }
    ), s as (
      update oauth_tokens set rotated_at = ${v.now}::timestamptz
      where token_hash = ${v.tokenHash}::text and rotated_at is null and revoked_at is null
        and exists (select 1 from chk where chk.refusal is null)
      returning family_id, grant_id, user_id, org_id, resource,
        ${narrowing ? sql`(select access_scopes from chk)` : sql`scopes`} as scopes, scopes as held, prefix as previous
    ), ${issuingTail(v, { refresh: true, event: 'refreshed' })}
    select chk.refusal, chk.client_id, chk.family_id, chk.user_id, chk.org_id, chk.resource, chk.prefix,
      chk.access_scopes as scopes, (select count(*) from s) as rotated,
      (select count(*) from t) as tokens, (select count(*) from a) as audited
    from chk`,
  );
const ROTATION = { all: rotationSql(false), narrowing: rotationSql(true) };

async function rotateOnce(db: Db, clock: Clock, who: Actor, r: Rotation): Promise<Outcome | 'raced'> {
  const { values, issued } = issueValues(clock, who, {
    clientId: r.clientId,
    refresh: true,
    tokenPrefix: r.tokenPrefix,
    event: 'refreshed',
  });
  const statement = r.named ? ROTATION.narrowing : ROTATION.all;
  const { rows } = await executeGrouped(
    db,
    statement.bind(
      Object.assign(values, {
        tokenHash: r.tokenHash,
        resource: r.resource ?? null,
        named: r.named ? JSON.stringify(r.named) : null,
        protocol: PROTOCOL,
      }),
      db,
    ),
  );
  const row = rows[0];
  if (!row) return { refusal: 'unknown' };
  if (row.refusal) return { refusal: row.refusal, row };
  if (Number(row.rotated) === 0) return 'raced';
  return { refusal: null, row, issued: issued(scopesOf(row.scopes)) };
}

/**
 * A rotated refresh token presented again: one of its holders is not its client. Revokes the whole
 * family (its refresh and access tokens) and records the reuse.
 */
async function reused(req: GrantRequest, row: TokenRow): Promise<void> {
  const { db, clock } = req.deps;
  const revoked = await db.transaction().execute(async (trx) => {
    const r = await revokeFamily(trx, clock, row.family_id);
    await audit(trx, clock, req.actor, {
      orgId: row.org_id,
      action: 'oauth.refresh_reuse_detected',
      target: `client:${row.client_id}`,
      data: {
        client_id: row.client_id,
        user_id: row.user_id,
        refresh_token: row.prefix,
        revoked: r.prefixes,
      },
    });
    return r.hashes;
  });
  for (const h of revoked) await req.deps.auth.changed({ token: h });
}

/**
 * `refresh_token` (RFC 6749 §6, OAuth 2.1 §4.3): rotates on every use. Presenting a token that
 * was already rotated is reuse: the whole family (its refresh and access tokens) is revoked and
 * the event audited. Scopes may narrow, never widen (see `rotate`).
 */
export const refreshTokenGrant: Grant = {
  type: 'refresh_token',
  async handle(req: GrantRequest) {
    const { deps, client, params } = req;
    const token = params.refresh_token;
    if (!token) throw new OAuthError('invalid_request', 'refresh_token is required.');
    if (!client.grantTypes.includes('refresh_token')) {
      throw new OAuthError('unauthorized_client', 'This client may not use refresh tokens.');
    }
    const named = parseScope(params.scope);
    if (named?.length === 0) throw new OAuthError('invalid_scope', 'The scope parameter is empty.');
    if (parseToken(token, deps.config.tokenPrefix)?.kind !== 'rt') throw invalidGrant();
    const out = await rotate(deps.db, deps.clock, req.actor, {
      tokenHash: hashToken(token),
      clientId: client.id,
      resource: params.resource,
      named,
      tokenPrefix: deps.config.tokenPrefix,
    });
    if (out.refusal) {
      if (out.refusal === 'reused' && out.row) await reused(req, out.row);
      throw ERRORS[out.refusal]();
    }
    return personTokenResponse(deps, {
      clientId: client.id,
      issued: out.issued,
      userId: out.row.user_id,
      orgId: out.row.org_id,
      resource: out.row.resource,
      familyId: out.row.family_id,
      withNonce: false,
    });
  },
};
