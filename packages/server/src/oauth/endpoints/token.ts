import { TOKEN_ROUTE } from '../../http/schemas/oauth.js';
import { actorOf } from '../../http/request.js';
import type { App } from '../../http/types.js';
import { authenticateClient, presentedClient } from '../client-auth.js';
import { OAuthError } from '../errors.js';
import { CLIENT_AUTHENTICATED, formParams, requireForm } from '../form.js';
import { GRANTS } from '../grants/index.js';
import type { OAuthDeps } from '../grants/types.js';

/**
 * The token endpoint (RFC 6749 §3.2): authenticates the client, then hands the request to its
 * grant type's rule in `grants/` (one file per grant).
 */
export function tokenEndpoint(app: App, deps: OAuthDeps): void {
  const { catalogue } = deps;
  const none = CLIENT_AUTHENTICATED;
  app.post('/api/oauth/token', { config: none, schema: TOKEN_ROUTE }, async (req, reply) => {
    requireForm(req);
    const params = formParams(req.body);
    // Resources are matched on normalised URLs: the grants compare the configured one.
    if (params.resource !== undefined) {
      const r = catalogue.resource(params.resource);
      if (r) params.resource = r.url;
    }
    const client = await authenticateClient(deps, presentedClient(req, params));
    const grantType = params.grant_type;
    if (!grantType) throw new OAuthError('invalid_request', 'grant_type is required.');
    const grant = GRANTS.get(grantType);
    if (!grant) throw new OAuthError('unsupported_grant_type', 'This grant type is not supported.');
    if (!client.grantTypes.includes(grantType as never)) {
      throw new OAuthError('unauthorized_client', 'This client is not registered for this grant type.');
    }
    const body = await grant.handle({
      deps,
      client,
      params,
      actor: Object.assign(actorOf(req), { actor: `client:${client.id}` }),
    });
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    return body;
  });
}
