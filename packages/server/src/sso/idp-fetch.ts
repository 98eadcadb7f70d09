import { isIP } from 'node:net';
import * as oauth from 'oauth4webapi';
import { toSocialError } from '../accounts/social/provider.js';
import { SSO_LIMITS } from './limits.js';
import { SsoError } from './errors.js';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Whether an admin-supplied IdP URL may be used: https to a named host or a public address. Plain
 * http (and loopback) only with `SSO_ALLOW_LOOPBACK`, for tests. Returns the reason, or null.
 *
 * Does NOT resolve DNS: a public name that resolves to a private address is not caught here.
 */
export function idpUrlProblem(raw: string, allowLoopback: boolean): string | null {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return 'is not a URL';
  }
  if (u.username || u.password) return 'must not carry credentials';
  if (u.hash) return 'must not have a fragment';
  const loopback = LOOPBACK.has(u.hostname);
  if (allowLoopback && loopback)
    return u.protocol === 'http:' || u.protocol === 'https:' ? null : 'must be http(s)';
  if (u.protocol !== 'https:') return 'must be https';
  if (loopback || isPrivateLiteral(u.hostname)) return 'must not point at a private address';
  return null;
}

function isPrivateLiteral(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (isIP(h) === 4)
    return /^(0|10|127|169\.254|172\.(1[6-9]|2\d|3[01])|192\.168|100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7]))\./.test(
      h,
    );
  if (isIP(h) === 6) return /^(::|::1|f[cd]|fe[89ab])/i.test(h);
  return false;
}

/** Options for every request to an IdP: the timeout, and plain http where allowed. */
export function idpRequestOptions(url: string) {
  return {
    signal: AbortSignal.timeout(SSO_LIMITS.idpTimeoutMs),
    ...(new URL(url).protocol === 'http:' ? { [oauth.allowInsecureRequests]: true } : {}),
  };
}

/**
 * Turns anything an IdP exchange threw into a stable code: timeouts, refused connections and 5xx
 * are `idp_unreachable` (the failover rules apply); anything else the IdP said is `idp_error`.
 */
export function toSsoError(err: unknown): SsoError {
  if (err instanceof SsoError) return err;
  const e = toSocialError(err);
  if (e.code === 'provider_unreachable') return new SsoError('idp_unreachable', e.message);
  if (e.code === 'access_denied') return new SsoError('access_denied', e.message);
  return new SsoError('idp_error', e.message);
}

/** GETs a small text document (SAML metadata) from an IdP, classified like the OIDC calls. */
export async function fetchText(url: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(SSO_LIMITS.idpTimeoutMs) });
  } catch (err) {
    throw toSsoError(err);
  }
  if (res.status >= 500) throw new SsoError('idp_unreachable', `HTTP ${res.status}`);
  if (res.status !== 200) throw new SsoError('idp_error', `HTTP ${res.status}`);
  const text = await res.text();
  if (text.length > SSO_LIMITS.metadataMaxBytes) throw new SsoError('idp_error', 'metadata too large');
  return text;
}
