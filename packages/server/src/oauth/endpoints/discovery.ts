import type { App } from '../../http/types.js';
import { RESOURCE_METADATA_ROUTE, serverMetadataRoute } from '../../http/schemas/oauth.js';
import { openIdProviderMetadata } from '../oidc/discovery.js';
import { GRANT_TYPES } from '../client-metadata.js';
import { CLIENT_AUTHENTICATED } from '../form.js';
import type { OAuthDeps } from '../grants/types.js';
import { PROTOCOL_SCOPES } from '../scope.js';

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

/** The authorization server metadata (RFC 8414, and as the OpenID configuration) and the API's resource metadata. */
export function discoveryEndpoints(app: App, deps: OAuthDeps): void {
  const none = CLIENT_AUTHENTICATED;
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
}
