import * as oauth from 'oauth4webapi';
import type { GoogleConfig } from '../../config/index.js';
import { isLoopbackUrl, type OutboundPolicy } from '../../lib/outbound-fetch.js';
import { SOCIAL_LIMITS } from '../limits.js';
import { isValidEmail, normalizeEmail } from '../users.js';
import {
  type FlowSecrets,
  type Profile,
  requestOptions,
  SocialError,
  type SocialProvider,
} from './provider.js';

const SCOPE = 'openid email profile';

/**
 * Google sign-in, as an OpenID Connect relying party of `GOOGLE_ISSUER`: endpoints and keys by
 * discovery, authorization code with PKCE, `state` and `nonce`; the ID token's issuer, audience,
 * expiry, nonce and signature are all checked. The person is Google's `sub`; their email counts
 * as verified only when the ID token says `email_verified`.
 *
 * Every request (discovery, token, JWKS) goes through the guarded outbound fetch under `net`.
 * The issuer is the operator's setting, so one they pointed at a loopback stand-in may be
 * reached; the endpoints its discovery document names get the same allowance and no more.
 */
export function googleProvider(
  c: GoogleConfig,
  base: OutboundPolicy,
  now: () => number = Date.now,
): SocialProvider {
  const net: OutboundPolicy = { ...base, allowLoopback: base.allowLoopback || isLoopbackUrl(c.issuer) };
  const client: oauth.Client = { client_id: c.clientId };
  const jwks: oauth.JWKSCacheInput = {};
  let cached: { as: oauth.AuthorizationServer; until: number } | null = null;

  /** The discovery document, fetched once an hour at most (a bounded, single-entry cache). */
  async function metadata(): Promise<oauth.AuthorizationServer> {
    if (cached && cached.until > now()) return cached.as;
    const issuer = new URL(c.issuer);
    const res = await oauth.discoveryRequest(issuer, requestOptions(c.issuer, net));
    const as = await oauth.processDiscoveryResponse(issuer, res);
    if (!as.authorization_endpoint || !as.token_endpoint || !as.jwks_uri) {
      throw new SocialError('provider_error', 'the discovery document lacks an endpoint');
    }
    cached = { as, until: now() + SOCIAL_LIMITS.discoveryTtlMs };
    return as;
  }

  return {
    id: 'google',
    name: 'Google',
    async authorizationUrl(f: FlowSecrets) {
      const as = await metadata();
      const url = new URL(as.authorization_endpoint!);
      url.searchParams.set('client_id', c.clientId);
      url.searchParams.set('redirect_uri', f.redirectUri);
      url.searchParams.set('response_type', 'code');
      url.searchParams.set('scope', SCOPE);
      url.searchParams.set('state', f.state);
      url.searchParams.set('nonce', f.nonce);
      url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(f.codeVerifier));
      url.searchParams.set('code_challenge_method', 'S256');
      return url;
    },
    async complete(callback: URLSearchParams, f: FlowSecrets): Promise<Profile> {
      const as = await metadata();
      const params = oauth.validateAuthResponse(as, client, callback, f.state);
      const res = await oauth.authorizationCodeGrantRequest(
        as,
        client,
        oauth.ClientSecretBasic(c.clientSecret),
        params,
        f.redirectUri,
        f.codeVerifier,
        requestOptions(as.token_endpoint!, net),
      );
      const tokens = await oauth.processAuthorizationCodeResponse(as, client, res, {
        expectedNonce: f.nonce,
        requireIdToken: true,
      });
      await oauth.validateApplicationLevelSignature(as, res, {
        ...requestOptions(as.jwks_uri!, net),
        [oauth.jwksCache]: jwks,
      });
      const claims = oauth.getValidatedIdTokenClaims(tokens);
      if (!claims) throw new SocialError('provider_error', 'no ID token');
      const email = typeof claims.email === 'string' ? normalizeEmail(claims.email) : null;
      const usable = email !== null && isValidEmail(email);
      return {
        subject: claims.sub,
        email: usable ? email : null,
        emailVerified: usable && (claims.email_verified === true || claims.email_verified === 'true'),
        name: typeof claims.name === 'string' ? claims.name : null,
      };
    },
  };
}
