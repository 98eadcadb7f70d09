import { OAuthError } from '../errors.js';
import { requestedResource, requestedScopes } from '../scope.js';
import { formatAccessToken } from '../oidc/jwt-access-token.js';
import { issueTokens, tokenResponse } from '../store/tokens.js';
import { ClientChanged, type Grant, type GrantRequest } from './types.js';

/**
 * `client_credentials` (RFC 6749 §4.4) for confidential apps an org admin made: an access token
 * (no refresh token) that acts as the app in its org, for one resource, within the app's scopes.
 */
export const clientCredentialsGrant: Grant = {
  type: 'client_credentials',
  provesClientCurrent: true,
  async handle({ deps, client, clientUnsynced, params, actor }: GrantRequest) {
    if (
      client.kind !== 'app' ||
      !client.orgId ||
      client.authMethod === 'none' ||
      !client.grantTypes.includes('client_credentials')
    ) {
      throw new OAuthError(
        'unauthorized_client',
        'Only confidential org apps allowed client_credentials may use it.',
      );
    }
    const resource = requestedResource(deps.catalogue, params.resource);
    const scopes = requestedScopes(deps.catalogue, resource, client, params.scope);
    const orgId = client.orgId;
    // The token and its audit event, written with concurrent grants'; with a client not checked
    // against the change log, only while its row is the one checked above.
    const o = {
      grantType: 'client_credentials',
      subject: { clientId: client.id, grantId: null, userId: null, orgId, resource: resource.url, scopes },
      refresh: false,
      tokenPrefix: deps.config.tokenPrefix,
    };
    const issued = clientUnsynced
      ? await issueTokens(deps.db, deps.clock, actor, { ...o, clientVersion: client.version })
      : await issueTokens(deps.db, deps.clock, actor, o);
    if (!issued) {
      if (clientUnsynced) throw new ClientChanged(client.id);
      throw new Error('client_credentials: the issuing statement wrote no row');
    }
    return tokenResponse(
      await formatAccessToken(deps, issued, {
        resource: resource.url,
        clientId: client.id,
        userId: null,
        orgId,
      }),
    );
  },
};
