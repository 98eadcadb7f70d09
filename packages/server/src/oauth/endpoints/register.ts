import { audit } from '../../audit/log.js';
import { REGISTER_ROUTE } from '../../http/schemas/oauth.js';
import { actorOf } from '../../http/request.js';
import type { App } from '../../http/types.js';
import {
  parseRpRegistration,
  rpRegistrationFields,
  saveRpRegistration,
} from '../oidc/client-registration.js';
import { parseClientMetadata } from '../client-metadata.js';
import { insertClient, newClientId, newClientSecret } from '../store/clients.js';
import { OAuthError } from '../errors.js';
import { CLIENT_AUTHENTICATED } from '../form.js';
import type { OAuthDeps } from '../grants/types.js';

/**
 * Dynamic registrations all addresses together may make per hour, as a multiple of the per-IP
 * limit (`DCR_RATE_LIMIT`): the abuse cap that holds when registrations come from many addresses.
 */
export const REGISTRATIONS_ALL_IPS_FACTOR = 20;

/** Dynamic client registration (RFC 7591), with the OpenID relying-party fields. */
export function registerEndpoint(app: App, deps: OAuthDeps): void {
  const { db, clock, config, catalogue } = deps;
  const none = CLIENT_AUTHENTICATED;
  // Hosted connectors register from a few shared addresses: the per-IP limit is a setting whose
  // default they do not reach; the instance-wide cap stops a flood from many addresses.
  const registrations = deps.cache.limiter({
    name: 'oauth:register',
    points: config.dcrRateLimit,
    windowSeconds: 3600,
  });
  const allRegistrations = deps.cache.limiter({
    name: 'oauth:register:all',
    points: config.dcrRateLimit * REGISTRATIONS_ALL_IPS_FACTOR,
    windowSeconds: 3600,
  });

  app.post('/api/oauth/register', { config: none, schema: REGISTER_ROUTE }, async (req, reply) => {
    const perIp = await registrations.consume(req.ip);
    const limited = perIp.allowed ? await allRegistrations.consume('all') : perIp;
    if (!limited.allowed) {
      throw new OAuthError(
        'temporarily_unavailable',
        perIp.allowed
          ? 'Too many registrations right now; try later.'
          : 'Too many registrations from this address; try later.',
        {
          status: 429,
          headers: { 'retry-after': String(limited.retryAfterSeconds) },
        },
      );
    }
    const meta = parseClientMetadata(req.body, 'dcr', catalogue);
    const rp = parseRpRegistration(req.body);
    const secret = meta.authMethod === 'none' ? null : newClientSecret();
    const client = await db.transaction().execute(async (trx) => {
      const c = await insertClient(trx, clock, {
        id: newClientId(),
        kind: 'dcr',
        orgId: null,
        meta,
        secretHash: secret?.hash ?? null,
        createdBy: 'dcr',
      });
      await saveRpRegistration(trx, c.id, rp);
      await audit(trx, clock, actorOf(req), {
        orgId: null,
        action: 'oauth.client_registered',
        target: `client:${c.id}`,
        data: { client_id: c.id, name: c.name, redirect_uris: c.redirectUris, auth_method: c.authMethod },
      });
      return c;
    });
    return reply.code(201).send({
      client_id: client.id,
      ...(secret ? { client_secret: secret.secret, client_secret_expires_at: 0 } : {}),
      client_id_issued_at: Math.floor(client.createdAt.getTime() / 1000),
      client_name: client.name,
      redirect_uris: client.redirectUris,
      grant_types: client.grantTypes,
      response_types: ['code'],
      token_endpoint_auth_method: client.authMethod,
      ...(client.scopes ? { scope: client.scopes.join(' ') } : {}),
      ...rpRegistrationFields(rp),
      ...client.display,
    });
  });
}
