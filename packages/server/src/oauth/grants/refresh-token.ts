import { sql } from 'kysely';
import { type Actor } from '../../auth/principal.js';
import { audit } from '../../audit/log.js';
import type { Db } from '../../db/connection.js';
import { builtOnce } from '../../db/built-once.js';
import { executeRows } from '../../db/group-commit.js';
import type { RowsStatement } from '../../db/rows-statement.js';
import type { Clock } from '../../lib/clock.js';
import { personTokenResponse } from '../oidc/token-response.js';
import { hashToken, parseToken } from '../../tokens/format.js';
import { OAuthError } from '../errors.js';
import { parseScope, PROTOCOL_SCOPES } from '../scope.js';
import {
  type IssuedTokens,
  type IssueValues,
  issueValues,
  issuingRows,
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

/** A rotation as a row of the rotation statement. */
type RotationRow = IssueValues & {
  token_hash: string;
  resource: string | null;
  named: readonly string[] | null;
};

/**
 * The rotation statement, over a JSON array of `RotationRow`s: one row answered per token found,
 * each on its own. Concurrent refreshes share one execution (`executeRows`), all reading one
 * snapshot. Two rows presenting the same token rotate it once (an update touches a row once): any
 * other row that presented it is answered as a concurrent refresh is, not rotated and with no
 * refusal — even one that failed another check — so it asks again and finds reuse, as it would
 * have had it run after the first. `narrowing`: the requests name scopes. Most refreshes name
 * none, and the scope subquery would cost on every one of them, so that part is in the statement
 * only when named.
 */
const rotationSql = (
  narrowing: boolean,
): RowsStatement<TokenRow & { refusal: Refusal | null; rotated: boolean }> =>
  builtOnce(
    (_db, p: { rows: string }) => sql<TokenRow & { n: number; refusal: Refusal | null; rotated: boolean }>`
    with ${issuingRows(p.rows, sql`token_hash text, resource text, named jsonb`)}, chk as (
      select v.n, v.now, cur.at, cur.client_id, cur.family_id, cur.user_id, cur.org_id, cur.resource, cur.prefix,
        ${narrowing ? sql`case when jsonb_array_length(k.kept) = 0 then cur.scopes else k.kept end` : sql`cur.scopes`} as access_scopes,
        case
          when cur.kind <> 'rt' or cur.client_id <> v.client_id or cur.revoked_at is not null then 'unknown'
          when cur.rotated_at is not null then 'reused'
          when cur.expires_at <= v.now then 'expired'
          when v.resource is not null and cur.resource <> v.resource then 'resource_mismatch'
          ${narrowing ? sql`when not (cur.scopes @> k.kept) then 'scope_widened'` : sql``}
          when cur.user_id is not null and mem.ok is null then 'not_member'
          when cur.user_id is not null and act.ok is null then 'account_disabled'
        end as refusal
      -- Each lookup a lateral subquery: an index probe per row, never a hash of the whole table.
      from v cross join lateral (
        select t.ctid as at, t.* from oauth_tokens t where t.token_hash = v.token_hash limit 1
      ) cur
      left join lateral (
        select true as ok from memberships m where m.org_id = cur.org_id and m.user_id = cur.user_id limit 1
      ) mem on true
      left join lateral (
        select true as ok from users u where u.id = cur.user_id and u.disabled_at is null limit 1
      ) act on true ${
        narrowing
          ? sql`cross join lateral (
        select coalesce(jsonb_agg(n.scope order by n.i), '[]'::jsonb) as kept
        from jsonb_array_elements_text(v.named) with ordinality as n(scope, i)
        where cur.scopes @> jsonb_build_array(n.scope) or not (${sql.lit(PROTOCOL)}::jsonb @> jsonb_build_array(n.scope))
      ) k`
          : sql``
      }
    ), s as (
      update oauth_tokens t set rotated_at = chk.now
      from chk
      where t.ctid = chk.at and chk.refusal is null and t.rotated_at is null and t.revoked_at is null
      returning chk.n, t.family_id, t.grant_id, t.user_id, t.org_id, t.resource, chk.access_scopes as scopes,
        t.scopes as held, t.prefix as previous
    ), ${issuingTail('refreshed')}
    select chk.n,
      case when not exists (select 1 from s where s.n = chk.n)
          and exists (select 1 from s join chk c2 on c2.n = s.n where c2.at = chk.at)
        then null else chk.refusal end as refusal,
      chk.client_id, chk.family_id, chk.user_id, chk.org_id, chk.resource, chk.prefix,
      chk.access_scopes as scopes, exists (select 1 from s where s.n = chk.n) as rotated
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
  const row: RotationRow = Object.assign(values, {
    token_hash: r.tokenHash,
    resource: r.resource ?? null,
    named: r.named ?? null,
  });
  const [found] = await executeRows(db, r.named ? ROTATION.narrowing : ROTATION.all, [row]);
  if (!found) return { refusal: 'unknown' };
  if (found.refusal) return { refusal: found.refusal, row: found };
  if (!found.rotated) return 'raced';
  return { refusal: null, row: found, issued: issued(scopesOf(found.scopes)) };
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
