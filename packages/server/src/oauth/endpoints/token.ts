import type { FastifyRequest } from 'fastify';
import { TOKEN_ROUTE } from '../../http/schemas/oauth.js';
import { actorOf } from '../../http/request.js';
import type { App } from '../../http/types.js';
import { authenticateClient, presentedClient } from '../client-auth.js';
import { OAuthError } from '../errors.js';
import { CLIENT_AUTHENTICATED, formParams, requireForm } from '../form.js';
import { GRANTS } from '../grants/index.js';
import { ClientChanged } from '../grants/types.js';
import type { OAuthDeps } from '../grants/types.js';

/** How often a grant may find its client changed before the request is refused. */
const MAX_CLIENT_CHANGES = 2;

/**
 * The token endpoint (RFC 6749 §3.2): authenticates the client, then hands the request to its
 * grant type's rule in `grants/` (one file per grant).
 *
 * Like every request that presents a credential, a token request reads the shared change log
 * before it trusts the client this node cached, so a client changed on another node is never used
 * as it was, except for a grant that proves the client current in its own statement
 * (`Grant.provesClientCurrent`). That grant first runs against the cached client without reading
 * the log; the log is read, and the request run again as any other, when it refuses (a stale
 * client may have been the reason) or when its statement finds the client changed (this node then
 * also forgets the client, in case the change is not announced yet).
 */
export function tokenEndpoint(app: App, deps: OAuthDeps): void {
  const { catalogue } = deps;
  const config = { ...CLIENT_AUTHENTICATED, changeLog: 'handler' } as const;
  app.post('/api/oauth/token', { config, schema: TOKEN_ROUTE }, async (req, reply) => {
    requireForm(req);
    const params = formParams(req.body);
    // Resources are matched on normalised URLs: the grants compare the configured one.
    if (params.resource !== undefined) {
      const r = catalogue.resource(params.resource);
      if (r) params.resource = r.url;
    }
    const grant = params.grant_type === undefined ? undefined : GRANTS.get(params.grant_type);
    let current = grant?.provesClientCurrent === true;
    if (!current && deps.auth.syncs) await deps.auth.sync();
    for (let changes = 0; ;) {
      try {
        const body = await grantToken(req, params);
        reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
        return body;
      } catch (err) {
        const changed = err instanceof ClientChanged;
        if (!changed && !(current && err instanceof OAuthError)) throw err;
        if (changed && ++changes > MAX_CLIENT_CHANGES)
          throw new OAuthError('invalid_client', 'Client authentication failed.');
        if (deps.auth.syncs) await deps.auth.sync();
        if (changed) deps.auth.apply({ client: err.clientId });
        current = false;
      }
    }
  });

  async function grantToken(req: FastifyRequest, params: Record<string, string | undefined>) {
    const client = await authenticateClient(deps, presentedClient(req, params));
    const grantType = params.grant_type;
    if (!grantType) throw new OAuthError('invalid_request', 'grant_type is required.');
    const grant = GRANTS.get(grantType);
    if (!grant) throw new OAuthError('unsupported_grant_type', 'This grant type is not supported.');
    if (!client.grantTypes.includes(grantType as never)) {
      throw new OAuthError('unauthorized_client', 'This client is not registered for this grant type.');
    }
    return grant.handle({
      deps,
      client,
      params,
      actor: Object.assign(actorOf(req), { actor: `client:${client.id}` }),
    });
  }
}
