import * as oauth from 'oauth4webapi';
import { normalizeEmail } from '../accounts/users.js';
import type { OutboundPolicy } from '../lib/outbound-fetch.js';
import { SsoError } from './errors.js';
import { idpRequestOptions } from './idp-fetch.js';

/** What an OIDC connection needs. */
export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Where requests to the IdP may go (every one goes through `lib/outbound-fetch.ts`). */
  net: OutboundPolicy;
}

/** What the authorization request carries and the callback must match. */
export interface OidcFlow {
  state: string;
  codeVerifier: string;
  nonce: string;
  redirectUri: string;
}

/** Who the IdP says signed in. */
export interface SsoProfile {
  subject: string;
  email: string | null;
  name: string | null;
}

const SCOPE = 'openid email profile';

/**
 * The IdP's discovery document, fetched at every use: a sign-in that starts is also a probe, so an
 * IdP that went down is noticed before the browser is sent to it (see failover).
 */
export async function discover(s: Pick<OidcSettings, 'issuer' | 'net'>): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(s.issuer);
  const res = await oauth.discoveryRequest(issuer, idpRequestOptions(s.issuer, s.net));
  const as = await oauth.processDiscoveryResponse(issuer, res);
  if (!as.authorization_endpoint || !as.token_endpoint || !as.jwks_uri) {
    throw new SsoError('idp_error', 'the discovery document lacks an endpoint');
  }
  return as;
}

export async function oidcAuthorizationUrl(
  as: oauth.AuthorizationServer,
  s: OidcSettings,
  f: OidcFlow,
  loginHint: string | null,
): Promise<URL> {
  const url = new URL(as.authorization_endpoint!);
  url.searchParams.set('client_id', s.clientId);
  url.searchParams.set('redirect_uri', f.redirectUri);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', SCOPE);
  url.searchParams.set('state', f.state);
  url.searchParams.set('nonce', f.nonce);
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(f.codeVerifier));
  url.searchParams.set('code_challenge_method', 'S256');
  if (loginHint) url.searchParams.set('login_hint', loginHint);
  return url;
}

/**
 * Validates the callback (state, issuer), redeems the code with PKCE and checks the ID token:
 * signature, issuer, audience, expiry, nonce. Throws on any failure.
 */
export async function oidcComplete(
  as: oauth.AuthorizationServer,
  s: OidcSettings,
  callback: URLSearchParams,
  f: OidcFlow,
): Promise<SsoProfile> {
  const client: oauth.Client = { client_id: s.clientId };
  const params = oauth.validateAuthResponse(as, client, callback, f.state);
  const res = await oauth.authorizationCodeGrantRequest(
    as,
    client,
    oauth.ClientSecretBasic(s.clientSecret),
    params,
    f.redirectUri,
    f.codeVerifier,
    idpRequestOptions(as.token_endpoint!, s.net),
  );
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, res, {
    expectedNonce: f.nonce,
    requireIdToken: true,
  });
  await oauth.validateApplicationLevelSignature(as, res, idpRequestOptions(as.jwks_uri!, s.net));
  const claims = oauth.getValidatedIdTokenClaims(tokens);
  if (!claims) throw new SsoError('idp_error', 'no ID token');
  // An IdP that says the address is unverified does not vouch for it.
  const unverified = claims.email_verified === false || claims.email_verified === 'false';
  return {
    subject: claims.sub,
    email: typeof claims.email === 'string' && !unverified ? normalizeEmail(claims.email) : null,
    name: typeof claims.name === 'string' ? claims.name : null,
  };
}
