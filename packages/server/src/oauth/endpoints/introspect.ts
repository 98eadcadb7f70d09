import { orgMfaBlocks } from '../../accounts/mfa/org-policy.js';
import { INTROSPECT_ROUTE } from '../../http/schemas/oauth.js';
import type { App } from '../../http/types.js';
import { safeEqual } from '../../lib/secrets.js';
import { jwtAccessTokenHash } from '../oidc/jwt-access-token.js';
import { liveApiToken } from '../../tokens/authenticate.js';
import { authenticateClient, presentedClient } from '../client-auth.js';
import { OAuthError } from '../errors.js';
import { CLIENT_AUTHENTICATED, formParams, requireForm } from '../form.js';
import type { OAuthDeps } from '../grants/types.js';
import { liveOAuthToken, liveOAuthTokenByHash } from '../validate.js';
import {
  apiTokenIntrospection,
  isApiToken,
  introspectedPerson,
  namedOrgMembers,
  orgNamedFor,
} from './introspect-api-token.js';

/**
 * Token introspection (RFC 7662), for resource servers (their configured id:secret: the tokens for
 * their audience, and Latchkey API tokens if they accept them) and confidential clients (their own
 * tokens only).
 */
export function introspectEndpoint(app: App, deps: OAuthDeps): void {
  const { config, catalogue } = deps;
  const none = CLIENT_AUTHENTICATED;
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
}
