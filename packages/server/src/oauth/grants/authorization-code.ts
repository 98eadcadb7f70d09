import { sql } from 'kysely';
import type { Actor } from '../../auth/principal.js';
import { audit } from '../../audit/log.js';
import type { Db } from '../../db/connection.js';
import { builtOnce } from '../../db/built-once.js';
import { executeRows } from '../../db/group-commit.js';
import type { RowsStatement } from '../../db/rows-statement.js';
import type { Clock } from '../../lib/clock.js';
import { newId, sha256Hex } from '../../lib/secrets.js';
import { personTokenResponse } from '../oidc/token-response.js';
import { OAuthError } from '../errors.js';
import { s256 } from '../pkce.js';
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

/** An exchange as a row of the exchange statement. */
type ExchangeRow = IssueValues & {
  code_hash: string;
  redirect_uri: string;
  resource: string;
  challenge: string | null;
  family: string;
};

/**
 * The exchange statement, over a JSON array of `ExchangeRow`s: one row answered per code found,
 * each on its own. Concurrent exchanges share one execution (`executeRows`), all reading one
 * snapshot. Two rows presenting the same code consume it once (an update touches a row once): any
 * other row that presented it is answered as a concurrent exchange is, not consumed and with no
 * refusal — even one that failed another check — so it asks again and finds a replay, as it would
 * have had it run after the first.
 */
const EXCHANGE: RowsStatement<CodeRow & { refusal: Refusal | null; consumed: boolean }> = builtOnce(
  (_db, p: { rows: string }) => sql<CodeRow & { n: number; refusal: Refusal | null; consumed: boolean }>`
    with ${issuingRows(p.rows, sql`code_hash text, redirect_uri text, resource text, challenge text, family uuid`)}, cur as (
      select v.n, v.now, v.family, c.at, c.client_id, c.org_id, c.family_id, c.user_id, c.resource, c.scopes, c.oidc,
        case
          when c.consumed_at is not null then 'code_used'
          when c.expires_at <= v.now then 'expired'
          when c.client_id <> v.client_id then 'wrong_client'
          when c.redirect_uri <> v.redirect_uri then 'redirect_uri_mismatch'
          when c.resource <> v.resource then 'resource_mismatch'
          when v.challenge is null or c.code_challenge <> v.challenge then 'pkce_mismatch'
          when live.ok is null then 'grant_revoked'
        end as refusal
      -- Each lookup a lateral subquery: an index probe per row, never a hash of the whole table.
      from v cross join lateral (
        select c.ctid as at, c.* from oauth_codes c where c.code_hash = v.code_hash limit 1
      ) c
      left join lateral (
        select true as ok from oauth_grants g where g.id = c.grant_id and g.revoked_at is null limit 1
      ) live on true
    ), s as (
      update oauth_codes c set consumed_at = cur.now, family_id = cur.family
      from cur
      where c.ctid = cur.at and cur.refusal is null and c.consumed_at is null
      returning cur.n, cur.family as family_id, c.grant_id, c.user_id, c.org_id, c.resource, c.scopes,
        c.scopes as held, null::text as previous
    ), ${issuingTail('issued')}
    select cur.n,
      case when s.n is null and exists (select 1 from s s2 join cur c2 on c2.n = s2.n where c2.at = cur.at)
        then null else cur.refusal end as refusal,
      cur.client_id, cur.org_id, coalesce(s.family_id, cur.family_id) as family_id,
      cur.user_id, cur.resource, cur.scopes, cur.oidc, s.n is not null as consumed
    from cur left join s on s.n = cur.n`,
);

async function exchangeOnce(db: Db, clock: Clock, who: Actor, e: Exchange): Promise<Outcome | 'raced'> {
  const family = newId();
  const { values, issued } = issueValues(clock, who, {
    clientId: e.clientId,
    refresh: e.refresh,
    tokenPrefix: e.tokenPrefix,
    event: 'issued',
    grantType: 'authorization_code',
  });
  const row: ExchangeRow = Object.assign(values, {
    code_hash: e.codeHash,
    redirect_uri: e.redirectUri,
    resource: e.resource,
    challenge: e.challenge,
    family,
  });
  const [found] = await executeRows(db, EXCHANGE, [row]);
  if (!found) return { refusal: 'unknown' };
  if (found.refusal) return { refusal: found.refusal, row: found };
  if (!found.consumed) return 'raced';
  return {
    refusal: null,
    row: Object.assign(found, { family_id: family }),
    issued: issued(scopesOf(found.scopes)),
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
