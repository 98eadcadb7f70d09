import type { FastifyRequest } from 'fastify';
import { TOKEN_ROUTE } from '../../http/schemas/oauth.js';
import { actorOf } from '../../http/request.js';
import type { App } from '../../http/types.js';
import { authenticateClient, type PresentedClient, presentedClient } from '../client-auth.js';
import { OAuthError } from '../errors.js';
import { CLIENT_AUTHENTICATED, formParams, requireForm } from '../form.js';
import { GRANTS } from '../grants/index.js';
import { ClientChanged } from '../grants/types.js';
import type { OAuthDeps, TokenResponse } from '../grants/types.js';

/**
 * The token endpoint (RFC 6749 §3.2): authenticates the client, then hands the request to its
 * grant type's rule in `grants/` (one file per grant).
 *
 * Like every request that presents a credential, a token request reads the shared change log
 * before it trusts the client this node cached, so a client changed on another node is never used
 * as it was. A grant that proves its client current in its own statement
 * (`Grant.provesClientCurrent`) first runs without that read, against the cached client, when the
 * node has one it trusts; if that refuses the request (the stale client may be why) or its
 * statement finds the client changed (this node then forgets it, in case the change is not
 * announced yet), the request reads the log and runs again as any other.
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
    const presented = presentedClient(req, params);
    const grant = params.grant_type === undefined ? undefined : GRANTS.get(params.grant_type);
    const optimistic =
      grant?.provesClientCurrent === true &&
      deps.auth.syncs &&
      deps.auth.trusted &&
      presented !== null &&
      deps.auth.client(presented.clientId) !== undefined;
    let body: TokenResponse | null = null;
    if (optimistic) {
      try {
        body = await grantToken(req, params, presented, true);
      } catch (err) {
        if (err instanceof ClientChanged) deps.auth.apply({ client: err.clientId });
        else if (!(err instanceof OAuthError)) throw err;
      }
    }
    if (!body) {
      if (deps.auth.syncs) await deps.auth.sync();
      body = await grantToken(req, params, presented, false);
    }
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    return body;
  });

  async function grantToken(
    req: FastifyRequest,
    params: Record<string, string | undefined>,
    presented: PresentedClient | null,
    clientUnsynced: boolean,
  ) {
    const client = await authenticateClient(deps, presented);
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
      clientUnsynced,
      params,
      actor: Object.assign(actorOf(req), { actor: `client:${client.id}` }),
    });
  }
}
