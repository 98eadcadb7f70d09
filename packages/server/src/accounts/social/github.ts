import * as oauth from 'oauth4webapi';
import type { GithubConfig } from '../../config/index.js';
import { claimedEmail, usableEmail } from '../../federation/claims.js';
import { requestOptions } from '../../federation/outbound.js';
import type { Flow } from '../../federation/transaction.js';
import { isLoopbackUrl } from '../../lib/outbound-address.js';
import type { OutboundPolicy } from '../../lib/outbound-fetch.js';
import { SOCIAL_LIMITS } from '../limits.js';
import { getJson, type Profile, SocialError, type SocialProvider } from './provider.js';

/** What Latchkey asks GitHub for: the profile and the email addresses with their verified flags. */
const SCOPE = 'read:user user:email';

const API_HEADERS = {
  accept: 'application/vnd.github+json',
  'x-github-api-version': '2022-11-28',
  'user-agent': 'Latchkey',
};

/**
 * GitHub sign-in: OAuth 2.0 authorization code with PKCE (GitHub is not an OpenID provider),
 * then `GET /user` for the stable numeric id and `GET /user/emails` for the primary address and
 * whether GitHub verified it. Does not read organisations or repositories.
 *
 * Every request goes through the guarded outbound fetch under `net`; the endpoints are the
 * operator's settings, so one they pointed at a loopback stand-in may be reached (nothing else
 * private may).
 */
export function githubProvider(c: GithubConfig, net: OutboundPolicy): SocialProvider {
  const netFor = (url: string): OutboundPolicy => ({
    ...net,
    allowLoopback: net.allowLoopback || isLoopbackUrl(url),
  });
  const as: oauth.AuthorizationServer = {
    issuer: new URL(c.authorizeUrl).origin,
    authorization_endpoint: c.authorizeUrl,
    token_endpoint: c.tokenUrl,
  };
  const client: oauth.Client = { client_id: c.clientId };
  return {
    id: 'github',
    name: 'GitHub',
    async authorizationUrl(f: Flow) {
      const url = new URL(c.authorizeUrl);
      url.searchParams.set('client_id', c.clientId);
      url.searchParams.set('redirect_uri', f.redirectUri);
      url.searchParams.set('response_type', 'code');
      url.searchParams.set('scope', SCOPE);
      url.searchParams.set('state', f.state);
      url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(f.codeVerifier));
      url.searchParams.set('code_challenge_method', 'S256');
      return url;
    },
    async complete(callback: URLSearchParams, f: Flow): Promise<Profile> {
      const params = oauth.validateAuthResponse(as, client, callback, f.state);
      const res = await oauth.authorizationCodeGrantRequest(
        as,
        client,
        oauth.ClientSecretPost(c.clientSecret),
        params,
        f.redirectUri,
        f.codeVerifier,
        requestOptions(c.tokenUrl, netFor(c.tokenUrl), SOCIAL_LIMITS.providerTimeoutMs),
      );
      const tokens = await oauth.processAuthorizationCodeResponse(as, client, res);
      const api = netFor(c.apiUrl);
      const user = await getJson(`${c.apiUrl}/user`, tokens.access_token, API_HEADERS, api);
      const emails = await getJson(`${c.apiUrl}/user/emails`, tokens.access_token, API_HEADERS, api);
      return profileOf(user, emails);
    },
  };
}

/**
 * Maps GitHub's answers to a profile: the primary address, verified only if GitHub says so — its
 * `verified` flag read like an ID token's `email_verified` (`federation/claims.ts`), under the
 * same `verified_only` rule as Google.
 */
function profileOf(user: unknown, emails: unknown): Profile {
  const u = user as { id?: unknown; login?: unknown; name?: unknown } | null;
  if (!u || (typeof u.id !== 'number' && typeof u.id !== 'string') || String(u.id) === '') {
    throw new SocialError('provider_error', 'GitHub /user has no id');
  }
  if (!Array.isArray(emails)) throw new SocialError('provider_error', 'GitHub /user/emails is not a list');
  const primary = (emails as { email?: unknown; primary?: unknown; verified?: unknown }[]).find(
    (e) => e && e.primary === true && typeof e.email === 'string',
  );
  const email = claimedEmail(primary?.email, primary?.verified);
  const name = typeof u.name === 'string' && u.name ? u.name : typeof u.login === 'string' ? u.login : null;
  return {
    subject: String(u.id),
    email: email.address,
    emailVerified: usableEmail(email, 'verified_only') !== null,
    name,
  };
}
