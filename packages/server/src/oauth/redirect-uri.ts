/**
 * Redirect URIs: which may be registered, and whether a requested one matches a registered one.
 * Registration: https; http on a loopback host (RFC 8252 §7.3); or, for public clients, a
 * private-use URI scheme (RFC 8252 §7.1) such as `com.example.app:/cb` or
 * `cursor://anysphere.cursor-mcp/oauth/callback`. Never a fragment, never credentials, never a
 * scheme that runs or reads something (`javascript:`, `data:`, `file:`, …). Matching: exact
 * string comparison (RFC 6749 §3.1.2.3, OAuth 2.1 §4.1.1), except that a loopback redirect URI
 * matches on any port (RFC 8252 §7.3).
 */
import { isPrivateUseScheme } from '../lib/uri-scheme.js';

export const REDIRECT_URI_MAX_LENGTH = 2000;

const LOOPBACK = /^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)(?::(\d{1,5}))?(\/[^#]*)?$/;

/** Why a redirect URI may not be registered, or null when it may. */
export function redirectUriProblem(uri: string): string | null {
  if (uri.length === 0 || uri.length > REDIRECT_URI_MAX_LENGTH) return 'must be 1–2000 characters';
  if (uri.includes('#')) return 'must not contain a fragment';
  if (/[\u0000-\u0020\u007f-\uffff\\]/.test(uri))
    return 'must not contain spaces, control or non-ASCII characters';
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return 'must be an absolute URL';
  }
  if (u.username || u.password) return 'must not contain credentials';
  if (u.protocol === 'https:') return u.hostname ? null : 'must name a host';
  if (u.protocol === 'http:')
    return LOOPBACK.test(uri)
      ? null
      : 'http is allowed only on a loopback host (127.0.0.1, [::1], localhost)';
  if (isPrivateUseScheme(u.protocol.slice(0, -1))) return null;
  return "must use https, http on a loopback host, or an app's own URI scheme (RFC 8252 §7.1)";
}

/** Whether a (registrable) redirect URI uses a private-use scheme: only public clients may. */
export function isPrivateUseRedirect(uri: string): boolean {
  try {
    return isPrivateUseScheme(new URL(uri).protocol.slice(0, -1));
  } catch {
    return false;
  }
}

/**
 * Where a redirect URI sends the person, as the consent page says it: a web host, or the app
 * that opens a private-use scheme (with the rest of its name, when it has one).
 */
export function redirectTarget(
  uri: string,
): { kind: 'web'; host: string } | { kind: 'app'; scheme: string; host: string } {
  const u = new URL(uri);
  if (u.protocol === 'https:' || u.protocol === 'http:') return { kind: 'web', host: u.host };
  return { kind: 'app', scheme: u.protocol.slice(0, -1), host: u.host };
}

export function isLoopbackRedirect(uri: string): boolean {
  return LOOPBACK.test(uri);
}

/** Whether `requested` is one of `registered`, compared exactly (port aside for loopback). */
export function matchRedirectUri(registered: readonly string[], requested: string): boolean {
  if (requested.length > REDIRECT_URI_MAX_LENGTH) return false;
  if (registered.includes(requested)) return true;
  const r = LOOPBACK.exec(requested);
  if (!r || (r[2] !== undefined && Number(r[2]) > 65535)) return false;
  try {
    new URL(requested);
  } catch {
    return false;
  }
  return registered.some((uri) => {
    const m = LOOPBACK.exec(uri);
    return m !== null && m[1] === r[1] && (m[3] ?? '') === (r[3] ?? '');
  });
}

/** The redirect to send the browser to: `base` with `params` added to its query (RFC 6749 §4.1.2). */
export function withParams(base: string, params: Record<string, string | undefined>): string {
  const u = new URL(base);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.append(k, v);
  return u.href;
}
