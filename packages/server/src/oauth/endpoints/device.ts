import { DEVICE_ROUTE } from '../../http/schemas/oauth.js';
import type { App } from '../../http/types.js';
import { authenticateClient, presentedClient } from '../client-auth.js';
import { DEVICE_CODE_GRANT } from '../client-metadata.js';
import {
  createDeviceAuthorization,
  DEVICE_CODE_TTL_MS,
  DEVICE_POLL_INTERVAL_MS,
  formatUserCode,
} from '../store/device-codes.js';
import { OAuthError } from '../errors.js';
import { CLIENT_AUTHENTICATED, formParams, requireForm } from '../form.js';
import type { OAuthDeps } from '../grants/types.js';
import { requestedResource, requestedScopes } from '../scope.js';

/** Device authorizations one IP may start per hour. */
export const DEVICE_STARTS_PER_IP_PER_HOUR = 60;

/** The device authorization endpoint (RFC 8628 §3.1); the person's side is `device-page.ts`. */
export function deviceAuthorizationEndpoint(app: App, deps: OAuthDeps): void {
  const { db, clock, config, catalogue } = deps;
  const none = CLIENT_AUTHENTICATED;
  const deviceStarts = deps.cache.limiter({
    name: 'oauth:device',
    points: DEVICE_STARTS_PER_IP_PER_HOUR,
    windowSeconds: 3600,
  });

  app.post('/api/oauth/device', { config: none, schema: DEVICE_ROUTE }, async (req, reply) => {
    requireForm(req);
    const params = formParams(req.body);
    const client = await authenticateClient(deps, presentedClient(req, params));
    if (!client.grantTypes.includes(DEVICE_CODE_GRANT)) {
      throw new OAuthError(
        'unauthorized_client',
        'This client is not registered for the device authorization grant.',
      );
    }
    const limited = await deviceStarts.consume(req.ip);
    if (!limited.allowed) {
      throw new OAuthError('slow_down', 'Too many device authorizations from this address; try later.', {
        status: 429,
        headers: { 'retry-after': String(limited.retryAfterSeconds) },
      });
    }
    const resource = requestedResource(catalogue, params.resource);
    const scopes = requestedScopes(catalogue, resource, client, params.scope);
    const started = await createDeviceAuthorization(db, clock, {
      clientId: client.id,
      resource: resource.url,
      scopes,
    });
    const userCode = formatUserCode(started.userCode);
    reply.header('cache-control', 'no-store');
    return {
      device_code: started.deviceCode,
      user_code: userCode,
      verification_uri: `${config.publicUrl}/device`,
      verification_uri_complete: `${config.publicUrl}/device?user_code=${userCode}`,
      expires_in: DEVICE_CODE_TTL_MS / 1000,
      interval: DEVICE_POLL_INTERVAL_MS / 1000,
    };
  });
}
