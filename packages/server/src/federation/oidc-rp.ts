import * as oauth from 'oauth4webapi';
import type { OutboundPolicy } from '../lib/outbound-fetch.js';
import { type ClaimedEmail, claimedEmail } from './claims.js';
import { FederationError } from './errors.js';
import { requestOptions } from './outbound.js';
import type { Flow } from './transaction.js';

/** What Latchkey asks every OpenID provider for. */
const SCOPE = 'openid email profile';

export interface RelyingPartyOptions {
  issuer: string;
  clientId: string;
  /** Sent with `client_secret_basic` at the token endpoint. */
  clientSecret: string;
  /** Where requests to the provider may go: every one goes through `lib/outbound-fetch.ts`. */
  net: OutboundPolicy;
  /** Each request to the provider gives up after this. */
  timeoutMs: number;
  /**
   * How the discovery document is had:
   * - `{ cacheMs, now }`: fetched at most once per `cacheMs` (one entry, for this relying party);
   * - `'every_use'`: fetched by every `discover`, `authorizationUrl` and `complete`, so starting a
   *   sign-in is also a probe: a provider that went down is noticed before the browser is sent to it.
   */
  discovery: { cacheMs: number; now: () => number } | 'every_use';
}

/** Who the provider says signed in, from the validated ID token. */
export interface FederatedProfile {
  /** The ID token's `sub`: stable at this issuer. */
  subject: string;
  /** `email` and `email_verified`, read by the one policy (`claims.ts`); the caller decides what is usable. */
  email: ClaimedEmail;
  name: string | null;
}

export interface RelyingParty {
  /** The provider's discovery document; it must name the authorization, token and JWKS endpoints. */
  discover(): Promise<oauth.AuthorizationServer>;
  /** The URL to send the browser to: code flow, PKCE S256, `state`, `nonce`, and `login_hint` when given. */
  authorizationUrl(f: Flow, opts?: { loginHint?: string | null }): Promise<URL>;
  /**
   * Validates the callback (`state`, and `iss` where the provider announces it), redeems the code
   * with the PKCE verifier and `client_secret_basic`, requires an ID token and checks its nonce,
   * signature (keys from `jwks_uri`), issuer, audience and expiry. Throws on any failure (see
   * `toFederationError`). Does NOT decide whether the email may be relied on: see `usableEmail`.
   */
  complete(callback: URLSearchParams, f: Flow): Promise<FederatedProfile>;
}

/**
 * The one OpenID Connect relying-party sequence, shared by social sign-in (Google) and SSO. The
 * JWKS it reads to check signatures is kept for the life of this object (oauth4webapi fetches it
 * again once it is five minutes old, or a minute old when a token names a key it lacks): a relying
 * party built once (Google) reuses it; one built per sign-in (SSO, from the connection as stored
 * now, with discovery at every use) fetches it each time.
 */
export function relyingParty(o: RelyingPartyOptions): RelyingParty {
  const client: oauth.Client = { client_id: o.clientId };
  const jwks: oauth.JWKSCacheInput = {};
  const opts = (url: string) => requestOptions(url, o.net, o.timeoutMs);
  let cached: { as: oauth.AuthorizationServer; until: number } | null = null;

  async function fetchMetadata(): Promise<oauth.AuthorizationServer> {
    const issuer = new URL(o.issuer);
    const res = await oauth.discoveryRequest(issuer, opts(o.issuer));
    const as = await oauth.processDiscoveryResponse(issuer, res);
    if (!as.authorization_endpoint || !as.token_endpoint || !as.jwks_uri) {
      throw new FederationError('provider_error', 'the discovery document lacks an endpoint');
    }
    return as;
  }

  async function discover(): Promise<oauth.AuthorizationServer> {
    const d = o.discovery;
    if (d === 'every_use') return fetchMetadata();
    if (cached && cached.until > d.now()) return cached.as;
    const as = await fetchMetadata();
    cached = { as, until: d.now() + d.cacheMs };
    return as;
  }

  return {
    discover,
    async authorizationUrl(f, extra) {
      const as = await discover();
      const url = new URL(as.authorization_endpoint!);
      url.searchParams.set('client_id', o.clientId);
      url.searchParams.set('redirect_uri', f.redirectUri);
      url.searchParams.set('response_type', 'code');
      url.searchParams.set('scope', SCOPE);
      url.searchParams.set('state', f.state);
      url.searchParams.set('nonce', f.nonce);
      url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(f.codeVerifier));
      url.searchParams.set('code_challenge_method', 'S256');
      if (extra?.loginHint) url.searchParams.set('login_hint', extra.loginHint);
      return url;
    },
    async complete(callback, f) {
      const as = await discover();
      const params = oauth.validateAuthResponse(as, client, callback, f.state);
      const res = await oauth.authorizationCodeGrantRequest(
        as,
        client,
        oauth.ClientSecretBasic(o.clientSecret),
        params,
        f.redirectUri,
        f.codeVerifier,
        opts(as.token_endpoint!),
      );
      const tokens = await oauth.processAuthorizationCodeResponse(as, client, res, {
        expectedNonce: f.nonce,
        requireIdToken: true,
      });
      await oauth.validateApplicationLevelSignature(as, res, {
        ...opts(as.jwks_uri!),
        [oauth.jwksCache]: jwks,
      });
      const claims = oauth.getValidatedIdTokenClaims(tokens);
      if (!claims) throw new FederationError('provider_error', 'no ID token');
      return {
        subject: claims.sub,
        email: claimedEmail(claims.email, claims.email_verified),
        name: typeof claims.name === 'string' ? claims.name : null,
      };
    },
  };
}
