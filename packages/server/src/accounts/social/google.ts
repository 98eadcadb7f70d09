import type { GoogleConfig } from '../../config/index.js';
import { usableEmail } from '../../federation/claims.js';
import { relyingParty } from '../../federation/oidc-rp.js';
import { isLoopbackUrl } from '../../lib/outbound-address.js';
import type { OutboundPolicy } from '../../lib/outbound-fetch.js';
import { SOCIAL_LIMITS } from '../limits.js';
import type { Profile, SocialProvider } from './provider.js';

/**
 * Google sign-in, as an OpenID Connect relying party of `GOOGLE_ISSUER` (`federation/oidc-rp.ts`):
 * endpoints and keys by discovery (reused for `SOCIAL_LIMITS.discoveryTtlMs`), authorization code
 * with PKCE, `state` and `nonce`; the ID token's issuer, audience, expiry, nonce and signature are
 * all checked. The person is Google's `sub`; their email counts as verified only when the ID token
 * says so (`email_verified` read as `verified`; `unstated` is not enough: anyone may hold a Google
 * account under an address they never proved).
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
  const rp = relyingParty({
    issuer: c.issuer,
    clientId: c.clientId,
    clientSecret: c.clientSecret,
    net: { ...base, allowLoopback: base.allowLoopback || isLoopbackUrl(c.issuer) },
    timeoutMs: SOCIAL_LIMITS.providerTimeoutMs,
    discovery: { cacheMs: SOCIAL_LIMITS.discoveryTtlMs, now },
  });
  return {
    id: 'google',
    name: 'Google',
    authorizationUrl: (f) => rp.authorizationUrl(f),
    async complete(callback, f): Promise<Profile> {
      const p = await rp.complete(callback, f);
      return {
        subject: p.subject,
        email: p.email.address,
        emailVerified: usableEmail(p.email, 'verified_only') !== null,
        name: p.name,
      };
    },
  };
}
