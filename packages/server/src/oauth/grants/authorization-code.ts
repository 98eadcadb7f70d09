import { sql } from 'kysely';
import type { Actor } from '../../auth/principal.js';
import { audit } from '../../audit/log.js';
import type { Db } from '../../db/connection.js';
import { builtOnce } from '../../db/built-once.js';
import { executeGrouped } from '../../db/group-commit.js';
import type { Clock } from '../../lib/clock.js';
import { newId, sha256Hex } from '../../lib/secrets.js';
import { personTokenResponse } from '../oidc/token-response.js';
import { OAuthError } from '../errors.js';
import { s256 } from '../pkce.js';
import {
  type IssuedTokens,
  type IssueValues,
  issueValues,
  issuingTail,
  revokeFamily,
  scopesOf,
} from '../store/tokens.js';
import type { Grant, GrantRequest } from './types.js';

/** Why a code was not exchanged. `code_used`: a second use, which revokes what the first issued. */
type Refusal =
  | 'unknown'
  | 'code_used'
  | 'expired'
  | 'wrong_client'
  | 'redirect_uri_mismatch'
  | 'resource_mismatch'
  | 'pkce_mismatch'
  | 'grant_revoked';

const invalidGrant = () =>
  new OAuthError('invalid_grant', 'The authorization code is invalid, expired or already used.');

/** The answer to each refusal. Unknown, expired and foreign codes look alike to the caller. */
const ERRORS: Record<Refusal, () => OAuthError> = {
  unknown: invalidGrant,
  code_used: invalidGrant,
  expired: invalidGrant,
  wrong_client: invalidGrant,
  grant_revoked: invalidGrant,
  redirect_uri_mismatch: () =>
    new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request.'),
  resource_mismatch: () =>
    new OAuthError('invalid_target', 'resource does not match the authorization request.'),
  pkce_mismatch: () =>
    new OAuthError('invalid_grant', 'The PKCE code_verifier does not match the code_challenge.'),
};

interface Exchange {
  codeHash: string;
  clientId: string;
  redirectUri: string;
  resource: string;
  /** The S256 challenge of the presented verifier; null when the verifier is malformed. */
  challenge: string | null;
  refresh: boolean;
  tokenPrefix: string;
}

/**
 * The whole rule, as one SQL statement: read the code, say why it cannot be exchanged (the checks
 * in the order they are answered), and when nothing is wrong consume it and issue the family with
 * its audit event — atomically, in one round trip (on the embedded database, with others in one
 * commit: `db/group-commit.ts`). Consuming is conditional on the code still being unconsumed, so
 * of two concurrent exchanges one consumes it and the other consumes nothing, writes nothing and
 * asks again. A replay is reported with the family the first use issued.
 */
interface CodeRow {
  client_id: string;
  org_id: string;
  /** The family the code's (first) exchange issued; null before any. */
  family_id: string | null;
  user_id: string | null;
  resource: string;
  scopes: unknown;
  oidc: unknown;
}

type Outcome =
  | { refusal: Refusal; row?: CodeRow }
  | { refusal: null; row: CodeRow & { family_id: string }; issued: IssuedTokens };

async function exchange(db: Db, clock: Clock, who: Actor, e: Exchange): Promise<Outcome> {
  // A code consumed by a concurrent exchange after this statement read it: ask again, and the
  // second reading names it (`code_used`).
  for (let attempt = 0; attempt < 2; attempt++) {
    const out = await exchangeOnce(db, clock, who, e);
    if (out !== 'raced') return out;
  }
  return { refusal: 'unknown' };
}

type ExchangeValues = IssueValues & {
  codeHash: string;
  redirectUri: string;
  resource: string;
  challenge: string | null;
  family: string;
};

const exchangeSql = (refresh: boolean) =>
  builtOnce(
    (_db, v: ExchangeValues) => sql<CodeRow & { refusal: Refusal | null; consumed: string | number }>`
    with cur as (
      select code_hash, client_id, org_id, family_id, user_id, resource, scopes, oidc,
        case
          when consumed_at is not null then 'code_used'
          when expires_at <= ${v.now}::timestamptz then 'expired'
          when client_id <> ${v.clientId}::text then 'wrong_client'
          when redirect_uri <> ${v.redirectUri}::text then 'redirect_uri_mismatch'
          when resource <> ${v.resource}::text then 'resource_mismatch'
          when ${v.challenge}::text is null or code_challenge <> ${v.challenge}::text then 'pkce_mismatch'
          when not exists (select 1 from oauth_grants g where g.id = oauth_codes.grant_id and g.revoked_at is null)
            then 'grant_revoked'
        end as refusal
      from oauth_codes where code_hash = ${v.codeHash}::text
    ), s as (
      update oauth_codes set consumed_at = ${v.now}::timestamptz, family_id = ${v.family}::uuid
      where code_hash = ${v.codeHash}::text and consumed_at is null
        and exists (select 1 from cur where cur.refusal is null)
      returning ${v.family}::uuid as family_id, grant_id, user_id, org_id, resource, scopes, scopes as held,
        null::text as previous
    ), ${issuingTail(v, { refresh, event: 'issued' })}
    select cur.refusal, cur.client_id, cur.org_id, coalesce(s.family_id, cur.family_id) as family_id, cur.user_id,
      cur.resource, cur.scopes, cur.oidc, (select count(*) from s) as consumed,
      (select count(*) from t) as tokens, (select count(*) from a) as audited
    from cur left join s on true`,
  );
const EXCHANGE = { access: exchangeSql(false), withRefresh: exchangeSql(true) };

async function exchangeOnce(db: Db, clock: Clock, who: Actor, e: Exchange): Promise<Outcome | 'raced'> {
  const family = newId();
  const { values, issued } = issueValues(clock, who, {
    clientId: e.clientId,
    refresh: e.refresh,
    tokenPrefix: e.tokenPrefix,
    event: 'issued',
    grantType: 'authorization_code',
  });
  const statement = e.refresh ? EXCHANGE.withRefresh : EXCHANGE.access;
  const { rows } = await executeGrouped(
    db,
    statement.bind(
      Object.assign(values, {
        codeHash: e.codeHash,
        redirectUri: e.redirectUri,
        resource: e.resource,
        challenge: e.challenge,
        family,
      }),
      db,
    ),
  );
  const row = rows[0];
  if (!row) return { refusal: 'unknown' };
  if (row.refusal) return { refusal: row.refusal, row };
  if (Number(row.consumed) === 0) return 'raced';
  return {
    refusal: null,
    row: Object.assign(row, { family_id: family }),
    issued: issued(scopesOf(row.scopes)),
  };
}

/**
 * A second use of a code: whoever holds it now, what the first use issued is no longer
 * trustworthy (RFC 6749 §4.1.2). Revokes that family and records the replay.
 */
async function replayed(
  req: GrantRequest,
  row: { client_id: string; org_id: string; family_id: string | null },
): Promise<void> {
  const { db, clock } = req.deps;
  const revoked = await db.transaction().execute(async (trx) => {
    const r = row.family_id ? await revokeFamily(trx, clock, row.family_id) : { hashes: [], prefixes: [] };
    await audit(trx, clock, req.actor, {
      orgId: row.org_id,
      action: 'oauth.code_replayed',
      target: `client:${row.client_id}`,
      data: { client_id: row.client_id, presented_by: req.client.id, revoked: r.prefixes },
    });
    return r.hashes;
  });
  for (const h of revoked) await req.deps.auth.changed({ token: h });
}

/**
 * `authorization_code` (RFC 6749 §4.1.3, OAuth 2.1 §4.1.3): single use, PKCE verified,
 * `redirect_uri` and `resource` equal to the authorization's. A second use of a code revokes
 * every token the first use issued (RFC 6749 §4.1.2).
 */
export const authorizationCodeGrant: Grant = {
  type: 'authorization_code',
  async handle(req: GrantRequest) {
    const { deps, client, params } = req;
    const code = params.code;
    if (!code) throw new OAuthError('invalid_request', 'code is required.');
    if (!params.redirect_uri) throw new OAuthError('invalid_request', 'redirect_uri is required.');
    if (!params.code_verifier) throw new OAuthError('invalid_request', 'code_verifier is required (PKCE).');
    if (code.length > 200) throw invalidGrant();
    const out = await exchange(deps.db, deps.clock, req.actor, {
      codeHash: sha256Hex(code),
      clientId: client.id,
      redirectUri: params.redirect_uri,
      // An OpenID relying party sends no resource (its code is for userinfo and Latchkey's own API).
      resource: params.resource ?? deps.catalogue.api.url,
      challenge: s256(params.code_verifier),
      refresh: client.grantTypes.includes('refresh_token'),
      tokenPrefix: deps.config.tokenPrefix,
    });
    if (out.refusal) {
      if (out.refusal === 'code_used' && out.row) await replayed(req, out.row);
      throw ERRORS[out.refusal]();
    }
    return personTokenResponse(deps, {
      clientId: client.id,
      issued: out.issued,
      userId: out.row.user_id,
      orgId: out.row.org_id,
      resource: out.row.resource,
      familyId: out.row.family_id,
      context: out.row.oidc,
      withNonce: true,
    });
  },
};
