import { bearerToken, type CredentialRequest } from '../../auth/principal.js';
import { OAuthError } from '../errors.js';
import type { OAuthDeps } from '../grants/types.js';
import { liveOAuthToken } from '../validate.js';
import { type PersonClaims, personClaims } from './claims.js';

const invalidToken = () =>
  new OAuthError('invalid_token', 'The access token is not valid.', {
    headers: { 'www-authenticate': 'Bearer realm="latchkey", error="invalid_token"' },
  });

/**
 * The UserInfo endpoint (Core §5.3): a live access token that holds `openid` and acts for a
 * person, sent as a bearer token (RFC 6750 §2.1). Answers the claims its scopes release about
 * that person, in the org the token is bound to (the org chosen on consent). Any audience: the
 * `openid` scope was consented to for this client, whatever resource its token serves.
 */
export async function userinfo(deps: OAuthDeps, req: CredentialRequest): Promise<PersonClaims> {
  const token = bearerToken(req);
  if (!token) {
    throw new OAuthError('invalid_request', 'Send the access token in the Authorization header.', {
      status: 401,
      headers: { 'www-authenticate': 'Bearer realm="latchkey"' },
    });
  }
  const cred = await liveOAuthToken(deps, token);
  const t = cred?.oauth;
  if (!t || t.kind !== 'at' || !t.userId) throw invalidToken();
  if (!t.scopes.includes('openid')) {
    throw new OAuthError('insufficient_scope', 'The access token does not hold the openid scope.', {
      headers: { 'www-authenticate': 'Bearer realm="latchkey", error="insufficient_scope", scope="openid"' },
    });
  }
  const claims = await personClaims(deps.db, { userId: t.userId, orgId: t.orgId, scopes: t.scopes });
  if (!claims) throw invalidToken();
  return claims;
}
