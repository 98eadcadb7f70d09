import { audit } from '../../audit/log.js';
import { REVOKE_ROUTE } from '../../http/schemas/oauth.js';
import { actorOf } from '../../http/request.js';
import type { App } from '../../http/types.js';
import { jwtAccessTokenHash } from '../oidc/jwt-access-token.js';
import { authenticateClient, presentedClient } from '../client-auth.js';
import { OAuthError } from '../errors.js';
import { CLIENT_AUTHENTICATED, formParams, requireForm } from '../form.js';
import type { OAuthDeps } from '../grants/types.js';
import { findTokenRow, findTokenRowByHash, revokeFamily, revokeToken } from '../store/tokens.js';

/** Token revocation (RFC 7009): a refresh token takes its whole family with it. */
export function revokeEndpoint(app: App, deps: OAuthDeps): void {
  const { db, clock } = deps;
  const none = CLIENT_AUTHENTICATED;
  app.post('/api/oauth/revoke', { config: none, schema: REVOKE_ROUTE }, async (req, reply) => {
    requireForm(req);
    const params = formParams(req.body);
    const client = await authenticateClient(deps, presentedClient(req, params));
    const token = params.token;
    if (!token) throw new OAuthError('invalid_request', 'token is required.');
    // RFC 7009 §2.2: an unknown, already revoked or someone else's token answers 200 all the same.
    const jti = await jwtAccessTokenHash(deps, token);
    const row = jti
      ? await findTokenRowByHash(db, jti)
      : token.length <= 200
        ? await findTokenRow(db, token)
        : undefined;
    if (row && row.client_id === client.id && !row.revoked_at) {
      const revoked = await db.transaction().execute(async (trx) => {
        const r =
          row.kind === 'rt'
            ? await revokeFamily(trx, clock, row.family_id)
            : await revokeToken(trx, clock, row.id);
        await audit(
          trx,
          clock,
          { ...actorOf(req), actor: `client:${client.id}` },
          {
            orgId: row.org_id,
            action: 'oauth.token_revoked',
            target: `client:${client.id}`,
            data: { client_id: client.id, token: row.prefix, revoked: r.prefixes },
          },
        );
        return r;
      });
      for (const h of revoked.hashes) await deps.auth.changed({ token: h });
    }
    reply.header('cache-control', 'no-store');
    return reply.code(200).send();
  });
}
