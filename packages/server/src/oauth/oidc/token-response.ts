import type { OAuthDeps, TokenResponse } from '../grants/types.js';
import { type IssuedTokens, tokenResponse } from '../store/tokens.js';
import { familyContext, issueIdToken, type OidcContext, parseOidcContext } from './id-token.js';
import { formatAccessToken } from './jwt-access-token.js';

/**
 * The token endpoint's answer for tokens that act for a person: RFC 6749 §5.1, plus an ID token
 * (Core §3.1.3.3, §12.2) when the tokens hold `openid` and came from an OpenID authentication —
 * at the code exchange (with the request's `nonce`) and on every refresh (without it). `context`
 * is the code's (`oauth_codes.oidc`); when undefined it is looked up by the token family. The
 * access token is a JWT for resources configured so (`at_hash` is then the JWT's).
 */
export async function personTokenResponse(
  deps: Pick<OAuthDeps, 'db' | 'clock' | 'config' | 'keys' | 'catalogue'>,
  o: {
    clientId: string;
    issued: IssuedTokens;
    userId: string | null;
    orgId: string;
    /** The tokens' resource: a `token_format = "jwt"` one gets a JWT access token. */
    resource: string;
    familyId: string;
    context?: unknown;
    withNonce: boolean;
  },
): Promise<TokenResponse & { id_token?: string }> {
  const issued = await formatAccessToken(deps, o.issued, o);
  const body = tokenResponse(issued);
  if (!o.userId || !issued.scopes.includes('openid')) return body;
  const context: OidcContext | null =
    o.context === undefined ? await familyContext(deps.db, o.familyId) : parseOidcContext(o.context);
  if (!context) return body;
  const idToken = await issueIdToken(deps, {
    clientId: o.clientId,
    userId: o.userId,
    orgId: o.orgId,
    scopes: issued.scopes,
    context,
    accessToken: issued.accessToken,
    withNonce: o.withNonce,
  });
  return idToken ? { ...body, id_token: idToken } : body;
}
