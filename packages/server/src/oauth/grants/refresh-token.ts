import { audit } from '../../audit/log.js';
import { OAuthError } from '../errors.js';
import { rotateRefresh } from '../fast-paths.js';
import { isProtocolScope, parseScope, refreshScopes } from '../scope.js';
import { hashToken, parseToken } from '../../tokens/format.js';
import { personTokenResponse } from '../../oidc/token-response.js';
import { issueTokens, revokeFamily, scopesOf } from '../tokens.js';
import type { Grant, GrantRequest } from './types.js';

const invalidGrant = () =>
  new OAuthError('invalid_grant', 'The refresh token is invalid, expired or revoked.');

/**
 * `refresh_token` (RFC 6749 §6, OAuth 2.1 §4.3): rotates on every use. Presenting a token that
 * was already rotated is reuse: the whole family (its refresh and access tokens) is revoked and
 * the event audited. Two concurrent refreshes of one token: the row lock lets exactly one rotate;
 * the other sees a rotated token, which is reuse. Scopes may narrow, never widen; a narrowing
 * applies to the new access token, while the new refresh token keeps the scope it was granted.
 */
export const refreshTokenGrant: Grant = {
  type: 'refresh_token',
  async handle({ deps, client, params, actor }: GrantRequest) {
    const { db, clock } = deps;
    const token = params.refresh_token;
    if (!token) throw new OAuthError('invalid_request', 'refresh_token is required.');
    if (!client.grantTypes.includes('refresh_token')) {
      throw new OAuthError('unauthorized_client', 'This client may not use refresh tokens.');
    }
    const narrowed = parseScope(params.scope);
    if (parseToken(token, deps.config.tokenPrefix)?.kind !== 'rt') throw invalidGrant();
    // Protocol scopes in `scope` are weighed against what the token holds, on the path below.
    if (narrowed === undefined || (narrowed.length > 0 && !narrowed.some(isProtocolScope))) {
      const fast = await rotateRefresh(db, clock, actor, {
        tokenHash: hashToken(token),
        clientId: client.id,
        resource: params.resource,
        scopes: narrowed,
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
          withNonce: false,
        });
    }
    // Something does not hold (reuse, expiry, widening…): find out what under the row lock.

    const out = await db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('oauth_tokens')
        .selectAll()
        .where('token_hash', '=', hashToken(token))
        .forUpdate()
        .executeTakeFirst();
      if (!row || row.kind !== 'rt' || row.client_id !== client.id || row.revoked_at)
        return { error: invalidGrant() };
      if (row.rotated_at) {
        const revoked = await revokeFamily(trx, clock, row.family_id);
        await audit(trx, clock, actor, {
          orgId: row.org_id,
          action: 'oauth.refresh_reuse_detected',
          target: `client:${client.id}`,
          data: {
            client_id: client.id,
            user_id: row.user_id,
            refresh_token: row.prefix,
            revoked: revoked.prefixes,
          },
        });
        return { error: invalidGrant(), revoked: revoked.hashes };
      }
      if (row.expires_at <= clock.now()) return { error: invalidGrant() };
      if (params.resource !== undefined && params.resource !== row.resource) {
        return {
          error: new OAuthError(
            'invalid_target',
            'A refresh token serves only the resource it was issued for.',
          ),
        };
      }
      const held = scopesOf(row.scopes);
      let scopes: string[];
      try {
        scopes = refreshScopes(held, narrowed);
      } catch (err) {
        if (err instanceof OAuthError) return { error: err };
        throw err;
      }
      if (row.user_id) {
        const still = await trx
          .selectFrom('memberships')
          .select('role')
          .where('org_id', '=', row.org_id)
          .where('user_id', '=', row.user_id)
          .executeTakeFirst();
        if (!still) return { error: invalidGrant() };
        // A disabled account's apps get no new tokens while it stays disabled.
        const person = await trx
          .selectFrom('users')
          .select('disabled_at')
          .where('id', '=', row.user_id)
          .executeTakeFirst();
        if (!person || person.disabled_at !== null) return { error: invalidGrant() };
      }
      await trx
        .updateTable('oauth_tokens')
        .set({ rotated_at: clock.now() })
        .where('id', '=', row.id)
        .execute();
      const issued = await issueTokens(trx, clock, {
        familyId: row.family_id,
        subject: {
          clientId: client.id,
          grantId: row.grant_id,
          userId: row.user_id,
          orgId: row.org_id,
          resource: row.resource,
          scopes,
        },
        refresh: true,
        refreshScopes: held,
        tokenPrefix: deps.config.tokenPrefix,
      });
      await audit(trx, clock, actor, {
        orgId: row.org_id,
        action: 'oauth.token_refreshed',
        target: `client:${client.id}`,
        data: {
          client_id: client.id,
          user_id: row.user_id,
          resource: row.resource,
          scopes,
          previous: row.prefix,
          access_token: issued.accessPrefix,
          refresh_token: issued.refreshPrefix,
        },
      });
      return { issued, row };
    });
    for (const h of out.revoked ?? []) await deps.auth.changed({ token: h });
    if ('error' in out && out.error) throw out.error;
    return personTokenResponse(deps, {
      clientId: client.id,
      issued: out.issued!,
      userId: out.row!.user_id,
      orgId: out.row!.org_id,
      resource: out.row!.resource,
      familyId: out.row!.family_id,
      withNonce: false,
    });
  },
};
