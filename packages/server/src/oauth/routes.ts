import formbody from '@fastify/formbody';
import type { FastifyRequest } from 'fastify';
import { audit } from '../audit/log.js';
import { actorOf } from '../http/request.js';
import type { App } from '../http/types.js';
import { safeEqual } from '../lib/secrets.js';
import { authenticateClient, presentedClient } from './client-auth.js';
import { DEVICE_CODE_GRANT, GRANT_TYPES, parseClientMetadata } from './client-metadata.js';
import { insertClient, newClientId, newClientSecret } from './clients.js';
import {
  createDeviceAuthorization,
  DEVICE_CODE_TTL_MS,
  DEVICE_POLL_INTERVAL_MS,
  formatUserCode,
} from './device.js';
import { OAuthError, sendOAuthError, toOAuthError } from './errors.js';
import { GRANTS } from './grants/index.js';
import {
  parseRpRegistration,
  rpRegistrationFields,
  saveRpRegistration,
} from '../oidc/client-registration.js';
import { openIdProviderMetadata } from '../oidc/discovery.js';
import type { OAuthDeps } from './grants/types.js';
import { PROTOCOL_SCOPES, requestedResource, requestedScopes } from './scope.js';
import { findTokenRow, findTokenRowByHash, revokeFamily, revokeToken } from './tokens.js';
import { liveOAuthToken, liveOAuthTokenByHash } from './validate.js';
import { jwtAccessTokenHash } from '../oidc/jwt-access-token.js';
import {
  apiTokenIntrospection,
  isApiToken,
  introspectedPerson,
  namedOrgMembers,
  orgNamedFor,
} from './introspect-api-token.js';
import { liveApiToken } from '../tokens/authenticate.js';
import { orgMfaBlocks } from '../accounts/mfa/org-policy.js';
import {
  DEVICE_ROUTE,
  INTROSPECT_ROUTE,
  REGISTER_ROUTE,
  RESOURCE_METADATA_ROUTE,
  REVOKE_ROUTE,
  serverMetadataRoute,
  TOKEN_ROUTE,
} from '../http/schemas/oauth.js';

/**
 * Dynamic registrations all addresses together may make per hour, as a multiple of the per-IP
 * limit (`DCR_RATE_LIMIT`): the abuse cap that holds when registrations come from many addresses.
 */
export const REGISTRATIONS_ALL_IPS_FACTOR = 20;
/** Device authorizations one IP may start per hour. */
export const DEVICE_STARTS_PER_IP_PER_HOUR = 60;

/** Request headers a browser-based client may send cross-origin (MCP: `mcp-protocol-version`). */
export const CORS_ALLOW_HEADERS = 'authorization, content-type, mcp-protocol-version';

/** The parameters the form endpoints understand: these must each come at most once. */
const KNOWN_PARAMS = new Set([
  'grant_type',
  'code',
  'redirect_uri',
  'code_verifier',
  'refresh_token',
  'device_code',
  'scope',
  'resource',
  'client_id',
  'client_secret',
  'token',
  'token_type_hint',
  'org',
]);

/**
 * A form body as single-valued strings (RFC 6749 §3.2): a parameter sent without a value counts as
 * omitted, an unrecognised one is ignored (repeated or not), and a recognised one given twice is
 * `invalid_request` — `resource` twice is `invalid_target`, as one token serves one resource.
 */
export function formParams(body: unknown): Record<string, string> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body))
    throw new OAuthError('invalid_request', 'The body must be form-encoded.');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(body)) {
    if (!KNOWN_PARAMS.has(k)) continue;
    if (typeof v !== 'string') {
      if (k === 'resource')
        throw new OAuthError('invalid_target', 'A token serves exactly one resource; name one.');
      throw new OAuthError('invalid_request', `${k} must be given once.`);
    }
    if (v.length > 4000) throw new OAuthError('invalid_request', `${k} is too long.`);
    if (v !== '') out[k] = v;
  }
  return out;
}

function requireForm(req: FastifyRequest): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new OAuthError('invalid_request', 'Send the parameters as application/x-www-form-urlencoded.');
  }
}

/** The authorization server metadata (RFC 8414), also served as the OpenID configuration. */
export function serverMetadata(deps: OAuthDeps) {
  const issuer = deps.config.publicUrl;
  return {
    issuer,
    authorization_endpoint: `${issuer}/api/oauth/authorize`,
    token_endpoint: `${issuer}/api/oauth/token`,
    registration_endpoint: `${issuer}/api/oauth/register`,
    revocation_endpoint: `${issuer}/api/oauth/revoke`,
    introspection_endpoint: `${issuer}/api/oauth/introspect`,
    device_authorization_endpoint: `${issuer}/api/oauth/device`,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: [...GRANT_TYPES],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    revocation_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    // What an MCP client should ask for: the configured resources' scopes. Latchkey's own
    // management scopes are listed in its API's resource metadata only, never here.
    scopes_supported: [
      ...new Set(deps.catalogue.resources.filter((r) => !r.builtin).flatMap((r) => r.scopes)),
      ...PROTOCOL_SCOPES,
    ],
    // OpenID Provider metadata (OpenID Connect Discovery 1.0 §3).
    ...openIdProviderMetadata(issuer),
    authorization_response_iss_parameter_supported: true,
    client_id_metadata_document_supported: true,
    service_documentation: `${issuer}/api/openapi.json`,
  };
}

/** The protected resource metadata (RFC 9728) of Latchkey's own API. */
export function apiResourceMetadata(deps: OAuthDeps) {
  return {
    resource: deps.catalogue.api.url,
    authorization_servers: [deps.config.publicUrl],
    scopes_supported: [...deps.catalogue.api.scopes],
    bearer_methods_supported: ['header'],
    resource_name: deps.catalogue.api.name,
  };
}

/**
 * The OAuth protocol endpoints: discovery, registration, token, revocation, introspection and
 * device authorization. Registered in their own scope so that every error — ours, a hook's,
 * Fastify's — leaves as RFC 6749 JSON with `Cache-Control: no-store`.
 */
export async function oauthRoutes(app: App, deps: OAuthDeps): Promise<void> {
  const { db, clock, config, catalogue } = deps;
  await app.register(formbody, { bodyLimit: 64 * 1024 });
  app.setErrorHandler((err, req, reply) => sendOAuthError(reply, toOAuthError(err, req)));
  // Browser-based clients call these endpoints cross-origin; none of them uses cookies.
  app.addHook('onSend', async (_req, reply) => {
    reply.header('access-control-allow-origin', '*');
    reply.header('access-control-expose-headers', 'www-authenticate, retry-after');
  });
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
  const deviceStarts = deps.cache.limiter({
    name: 'oauth:device',
    points: DEVICE_STARTS_PER_IP_PER_HOUR,
    windowSeconds: 3600,
  });
  const none = { auth: 'none', csrf: false } as const;

  const metadata = serverMetadata(deps);
  for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    app.get(path, { config: none, schema: serverMetadataRoute(path) }, async (_req, reply) => {
      reply.header('cache-control', 'public, max-age=3600');
      return metadata;
    });
  }
  const resourceDoc = apiResourceMetadata(deps);
  app.get(
    '/.well-known/oauth-protected-resource/api',
    { config: none, schema: RESOURCE_METADATA_ROUTE },
    async (_req, reply) => {
      reply.header('cache-control', 'public, max-age=3600');
      return resourceDoc;
    },
  );

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
      actor: { ...actorOf(req), actor: `client:${client.id}` },
    });
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    return body;
  });

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

  app.post('/api/oauth/introspect', { config: none, schema: INTROSPECT_ROUTE }, async (req, reply) => {
    requireForm(req);
    const params = formParams(req.body);
    reply.header('cache-control', 'no-store');
    const presented = presentedClient(req, params);
    // A resource server (its configured id:secret) sees the tokens for its audience; a confidential
    // client sees only its own tokens.
    const resource =
      presented && catalogue.resources.find((r) => r.secret !== null && r.id === presented.clientId);
    let may: (aud: string, clientId: string, kind: 'at' | 'rt') => boolean;
    if (resource) {
      if (presented.method === 'none' || !safeEqual(presented.secret ?? '', resource.secret!)) {
        throw new OAuthError('invalid_client', 'Client authentication failed.', {
          headers: { 'www-authenticate': 'Basic realm="latchkey", charset="UTF-8"' },
        });
      }
      may = (aud, _c, kind) => kind === 'at' && aud === resource.url;
    } else {
      const client = await authenticateClient(deps, presented);
      if (client.authMethod === 'none')
        throw new OAuthError('invalid_client', 'Public clients may not introspect.');
      may = (_aud, clientId) => clientId === client.id;
    }
    const token = params.token;
    if (!token) throw new OAuthError('invalid_request', 'token is required.');
    // `org` (id or slug) asks where the credential acts: answered only if it may act there now.
    const orgRef = params.org?.trim() || null;
    // An org that requires a second factor shuts out its members without one after the grace
    // period (as its own routes do): their org-bound credentials introspect as inactive.
    if (resource?.acceptApiTokens && isApiToken(token, config.tokenPrefix)) {
      const cred = await liveApiToken(deps, token);
      if (cred?.boundOrg && (await orgMfaBlocks(deps, cred.principal, cred.boundOrg)))
        return { active: false };
      const named = cred && orgRef !== null ? await orgNamedFor(deps, cred.principal, orgRef) : null;
      if (orgRef !== null && !named) return { active: false };
      return apiTokenIntrospection(cred, resource, deps, named);
    }
    // A JWT access token (RFC 9068) introspects as its row: its jti is the row's hash.
    const jti = await jwtAccessTokenHash(deps, token);
    const live = jti ? await liveOAuthTokenByHash(deps, jti) : await liveOAuthToken(deps, token);
    const t = live?.oauth;
    if (!t || !may(t.resource, t.clientId, t.kind)) return { active: false };
    if (live.boundOrg && (await orgMfaBlocks(deps, live.principal, live.boundOrg))) return { active: false };
    const named = orgRef !== null ? await orgNamedFor(deps, live.principal, orgRef) : null;
    if (orgRef !== null && !named) return { active: false };
    return {
      active: true,
      scope: t.scopes.join(' '),
      client_id: t.clientId,
      sub: t.userId ?? t.clientId,
      // Only to the resource the token is for: a confidential client introspecting its own token
      // learns nothing about the person that its scopes did not give it.
      ...(resource ? introspectedPerson(live.principal) : {}),
      org_id: t.orgId,
      // The person's role there, like their name, only to a resource server.
      ...(named && resource ? namedOrgMembers(live.principal, named) : {}),
      aud: t.resource,
      iss: config.publicUrl,
      exp: t.exp,
      iat: t.iat,
      token_type: t.kind === 'at' ? 'Bearer' : 'refresh_token',
      token_kind: 'oauth',
    };
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
