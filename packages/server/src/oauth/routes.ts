import formbody from '@fastify/formbody';
import type { App } from '../http/types.js';
import { deviceAuthorizationEndpoint } from './endpoints/device.js';
import { discoveryEndpoints } from './endpoints/discovery.js';
import { introspectEndpoint } from './endpoints/introspect.js';
import { registerEndpoint } from './endpoints/register.js';
import { revokeEndpoint } from './endpoints/revoke.js';
import { tokenEndpoint } from './endpoints/token.js';
import { sendOAuthError, toOAuthError } from './error-routes.js';
import { CLIENT_AUTHENTICATED } from './form.js';
import type { OAuthDeps } from './grants/types.js';

/** Request headers a browser-based client may send cross-origin (MCP: `mcp-protocol-version`). */
export const CORS_ALLOW_HEADERS = 'authorization, content-type, mcp-protocol-version';

/**
 * The OAuth protocol endpoints (one file each in `endpoints/`): discovery, registration, token,
 * revocation, introspection and device authorization. Registered in their own scope so that every
 * error — ours, a hook's, Fastify's — leaves as RFC 6749 JSON with `Cache-Control: no-store`, and
 * so that every answer allows browser-based clients cross-origin.
 */
export async function oauthRoutes(app: App, deps: OAuthDeps): Promise<void> {
  await app.register(formbody, { bodyLimit: 64 * 1024 });
  app.setErrorHandler((err, req, reply) => sendOAuthError(reply, toOAuthError(err, req)));
  // Browser-based clients call these endpoints cross-origin; none of them uses cookies.
  app.addHook('onSend', async (_req, reply) => {
    reply.header('access-control-allow-origin', '*');
    reply.header('access-control-expose-headers', 'www-authenticate, retry-after');
  });
  const none = CLIENT_AUTHENTICATED;

  // CORS preflight (browser-based MCP clients): discovery, and the token, registration,
  // revocation and other OAuth endpoints, with the MCP client's protocol version header.
  for (const path of ['/api/oauth/*', '/.well-known/*']) {
    app.options(path, { config: none, schema: { hide: true } }, async (_req, reply) => {
      reply
        .header('access-control-allow-methods', path === '/.well-known/*' ? 'GET' : 'GET, POST')
        .header('access-control-allow-headers', CORS_ALLOW_HEADERS)
        .header('access-control-max-age', '600')
        .code(204)
        .send();
    });
  }

  discoveryEndpoints(app, deps);
  registerEndpoint(app, deps);
  tokenEndpoint(app, deps);
  revokeEndpoint(app, deps);
  introspectEndpoint(app, deps);
  deviceAuthorizationEndpoint(app, deps);
}
