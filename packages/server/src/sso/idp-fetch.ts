import type { Config } from '../config/index.js';
import { type FederationErrorCode, toFederationError } from '../federation/errors.js';
import {
  checkOutboundUrl,
  OutboundFetchError,
  outboundFetch,
  type OutboundPolicy,
  outboundPolicy,
} from '../lib/outbound-fetch.js';
import { SSO_LIMITS } from './limits.js';
import { SsoError, type SsoErrorCode } from './errors.js';

/** Where requests to an org's IdP may go: public addresses only, loopback with `SSO_ALLOW_LOOPBACK` (tests). */
export function ssoOutbound(config: Pick<Config, 'dnsServers' | 'ssoAllowLoopback'>): OutboundPolicy {
  return outboundPolicy(config, config.ssoAllowLoopback);
}

/**
 * Whether an admin-supplied IdP URL may be saved: https (plain http only to loopback with
 * `SSO_ALLOW_LOOPBACK`), no credentials or fragment, and not an IP literal outside public unicast
 * (`127.1`, `0x7f000001`, `[::ffff:127.0.0.1]` are read as the URL parser normalises them).
 * Returns the reason, or null.
 *
 * Does NOT resolve DNS: a name that resolves to a private address is refused when it is fetched
 * (every request goes through `lib/outbound-fetch.ts`).
 */
export function idpUrlProblem(raw: string, allowLoopback: boolean): string | null {
  let u: URL;
  try {
    u = checkOutboundUrl(raw, allowLoopback);
  } catch (err) {
    if (!(err instanceof OutboundFetchError)) throw err;
    if (err.code === 'forbidden_address') return 'must not point at a private address';
    return /credentials/.test(err.message) ? 'must not carry credentials' : 'must be https';
  }
  if (u.hash || raw.includes('#')) return 'must not have a fragment';
  return null;
}

/**
 * Turns anything an IdP exchange threw into a stable code: timeouts, refused connections and 5xx
 * are `idp_unreachable` (the failover rules apply); anything else the IdP said is `idp_error`.
 */
export function toSsoError(err: unknown): SsoError {
  if (err instanceof SsoError) return err;
  const e = toFederationError(err);
  return new SsoError(SSO_CODES[e.code], e.message);
}

const SSO_CODES: Readonly<Record<FederationErrorCode, SsoErrorCode>> = {
  access_denied: 'access_denied',
  unreachable: 'idp_unreachable',
  provider_error: 'idp_error',
};

/** GETs a small text document (SAML metadata) from an IdP, classified like the OIDC calls. */
export async function fetchText(url: string, net: OutboundPolicy): Promise<string> {
  let res;
  try {
    res = await outboundFetch(
      url,
      { headers: { accept: 'application/samlmetadata+xml, application/xml, text/xml' } },
      { ...net, timeoutMs: SSO_LIMITS.idpTimeoutMs, maxBytes: SSO_LIMITS.metadataMaxBytes },
    );
  } catch (err) {
    throw toSsoError(err);
  }
  if (res.status >= 500) throw new SsoError('idp_unreachable', `HTTP ${res.status}`);
  if (res.status !== 200) throw new SsoError('idp_error', `HTTP ${res.status}`);
  return res.body.toString('utf8');
}
