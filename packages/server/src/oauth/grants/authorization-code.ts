import { audit } from '../../audit/log.js';
import { newId, sha256Hex } from '../../lib/secrets.js';
import { OAuthError } from '../errors.js';
import { exchangeCode } from '../fast-paths.js';
import { s256, verifyPkce } from '../pkce.js';
import { personTokenResponse } from '../../oidc/token-response.js';
import { issueAndAudit, revokeFamily, scopesOf } from '../tokens.js';
import type { Grant, GrantRequest } from './types.js';

const invalidGrant = () =>
  new OAuthError('invalid_grant', 'The authorization code is invalid, expired or already used.');

/**
 * `authorization_code` (RFC 6749 §4.1.3, OAuth 2.1 §4.1.3): single use, PKCE verified,
 * `redirect_uri` and `resource` equal to the authorization's. A second use of a code revokes
 * every token the first use issued (RFC 6749 §4.1.2).
 */
export const authorizationCodeGrant: Grant = {
  type: 'authorization_code',
  async handle({ deps, client, params, actor }: GrantRequest) {
    const { db, clock } = deps;
    const code = params.code;
    if (!code) throw new OAuthError('invalid_request', 'code is required.');
    if (!params.redirect_uri) throw new OAuthError('invalid_request', 'redirect_uri is required.');
    if (!params.code_verifier) throw new OAuthError('invalid_request', 'code_verifier is required (PKCE).');
    // An OpenID relying party sends no resource (its code is for userinfo and Latchkey's own API).
    const resource = params.resource ?? deps.catalogue.api.url;
    if (code.length > 200) throw invalidGrant();
    const codeHash = sha256Hex(code);
    const refresh = client.grantTypes.includes('refresh_token');
    const challenge = s256(params.code_verifier);
    if (challenge) {
      const fast = await exchangeCode(db, clock, actor, {
        codeHash,
        clientId: client.id,
        redirectUri: params.redirect_uri,
        resource,
        challenge,
        refresh,
        tokenPrefix: deps.config.tokenPrefix,
      });
      if (fast)
        return personTokenResponse(deps, {
          clientId: client.id,
          issued: fast,
          userId: fast.userId,
          orgId: fast.orgId,
          resource: fast.resource,
          familyId: fast.familyId,
          context: fast.oidc,
          withNonce: true,
        });
    }
    // Something does not hold: find out what, step by step, under the same row lock.

    const out = await db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('oauth_codes')
        .selectAll()
        .where('code_hash', '=', codeHash)
        .forUpdate()
        .executeTakeFirst();
      if (!row) return { error: invalidGrant() };
      if (row.consumed_at) {
        // Replay: whoever holds this code now, what it issued is no longer trustworthy.
        const revoked = row.family_id
          ? await revokeFamily(trx, clock, row.family_id)
          : { hashes: [], prefixes: [] };
        await audit(trx, clock, actor, {
          orgId: row.org_id,
          action: 'oauth.code_replayed',
          target: `client:${row.client_id}`,
          data: { client_id: row.client_id, presented_by: client.id, revoked: revoked.prefixes },
        });
        return { error: invalidGrant(), revoked: revoked.hashes };
      }
      if (row.expires_at <= clock.now() || row.client_id !== client.id) return { error: invalidGrant() };
      if (row.redirect_uri !== params.redirect_uri) {
        return {
          error: new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request.'),
        };
      }
      if (resource !== row.resource) {
        return {
          error: new OAuthError('invalid_target', 'resource does not match the authorization request.'),
        };
      }
      if (!verifyPkce(row.code_challenge, params.code_verifier)) {
        return {
          error: new OAuthError('invalid_grant', 'The PKCE code_verifier does not match the code_challenge.'),
        };
      }
      const grant = await trx
        .selectFrom('oauth_grants')
        .select('id')
        .where('id', '=', row.grant_id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      if (!grant) return { error: invalidGrant() };
      const familyId = newId();
      await trx
        .updateTable('oauth_codes')
        .set({ consumed_at: clock.now(), family_id: familyId })
        .where('code_hash', '=', codeHash)
        .execute();
      const scopes = scopesOf(row.scopes);
      const issued = await issueAndAudit(trx, clock, actor, {
        grantType: 'authorization_code',
        familyId,
        subject: {
          clientId: client.id,
          grantId: row.grant_id,
          userId: row.user_id,
          orgId: row.org_id,
          resource: row.resource,
          scopes,
        },
        refresh,
        tokenPrefix: deps.config.tokenPrefix,
      });
      return { issued, row, familyId };
    });
    for (const h of out.revoked ?? []) await deps.auth.changed({ token: h });
    if ('error' in out && out.error) throw out.error;
    return personTokenResponse(deps, {
      clientId: client.id,
      issued: out.issued!,
      userId: out.row!.user_id,
      orgId: out.row!.org_id,
      resource: out.row!.resource,
      familyId: out.familyId!,
      context: out.row!.oidc,
      withNonce: true,
    });
  },
};
