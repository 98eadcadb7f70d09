import type { OAuthDeps } from '../grants/types.js';
import type { IssuedTokens } from '../store/tokens.js';
import { hashToken } from '../../tokens/format.js';

/**
 * JWT access tokens (RFC 9068) for resources configured with `token_format = "jwt"`.
 *
 * Every access token is still a row in `oauth_tokens`, minted as an opaque token whose plaintext
 * is then dropped: the JWT's `jti` is that row's `token_hash`. So introspection, revocation and the
 * revocation stream work unchanged — revoking the row publishes its hash, which is the JWT's
 * `jti`, and a resource server following the stream drops it. The JWT carries `iss`, `sub` (the
 * person, or the client for client credentials), `aud` (the resource), `client_id`, `scope`,
 * `jti`, `iat`, `exp` and `org_id`, and is signed with the instance's current key, `typ: at+jwt`.
 */
export const AT_JWT_TYP = 'at+jwt';
const JWT_RE = /^[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}$/;
export const JWT_MAX_LENGTH = 4096;

export function looksLikeJwt(token: string): boolean {
  return token.length <= JWT_MAX_LENGTH && JWT_RE.test(token);
}

/** `issued` with its access token replaced by a JWT when `resource` asks for them; unchanged otherwise. */
export async function formatAccessToken(
  deps: Pick<OAuthDeps, 'catalogue' | 'keys' | 'config' | 'clock'>,
  issued: IssuedTokens,
  o: { resource: string; clientId: string; userId: string | null; orgId: string },
): Promise<IssuedTokens> {
  const resource = deps.catalogue.resource(o.resource);
  if (resource?.tokenFormat !== 'jwt') return issued;
  const iat = Math.floor(deps.clock.now().getTime() / 1000);
  const jwt = await deps.keys.sign(
    {
      iss: deps.config.publicUrl,
      sub: o.userId ?? o.clientId,
      aud: resource.url,
      client_id: o.clientId,
      scope: issued.scopes.join(' '),
      jti: hashToken(issued.accessToken),
      iat,
      exp: iat + issued.expiresIn,
      org_id: o.orgId,
    },
    { alg: deps.config.signingAlg, typ: AT_JWT_TYP },
  );
  return { ...issued, accessToken: jwt };
}

/**
 * The `jti` (= the row's token hash) of a JWT access token this instance signed and that has not
 * expired; null otherwise. Says nothing about revocation: the row does.
 */
export async function jwtAccessTokenHash(
  deps: Pick<OAuthDeps, 'keys' | 'config'>,
  token: string,
): Promise<string | null> {
  if (!looksLikeJwt(token)) return null;
  try {
    const { payload } = await deps.keys.verify(token, {
      issuer: deps.config.publicUrl,
      typ: AT_JWT_TYP,
      clockTolerance: 0,
    });
    return typeof payload.jti === 'string' && /^[0-9a-f]{64}$/.test(payload.jti) ? payload.jti : null;
  } catch {
    return null;
  }
}
