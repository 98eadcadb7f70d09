import { OAuthError } from './errors.js';

/**
 * The OAuth endpoints authenticate the client themselves (RFC 6749 §2.3): no session, and no CSRF
 * token, as none of them reads a cookie.
 */
export const CLIENT_AUTHENTICATED = { auth: 'none', csrf: false } as const;

/** The parameters the form endpoints understand: these must each come at most once. */
const KNOWN_PARAMS = new Set([
  'grant_type',
  'code',
  'redirect_uri',
  'code_verifier',
  'refresh_token',
  'device_code',
  'scope',
  'resource',
  'client_id',
  'client_secret',
  'token',
  'token_type_hint',
  'org',
]);

/**
 * A form body as single-valued strings (RFC 6749 §3.2): a parameter sent without a value counts as
 * omitted, an unrecognised one is ignored (repeated or not), and a recognised one given twice is
 * `invalid_request` — `resource` twice is `invalid_target`, as one token serves one resource.
 */
export function formParams(body: unknown): Record<string, string> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body))
    throw new OAuthError('invalid_request', 'The body must be form-encoded.');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(body)) {
    if (!KNOWN_PARAMS.has(k)) continue;
    if (typeof v !== 'string') {
      if (k === 'resource')
        throw new OAuthError('invalid_target', 'A token serves exactly one resource; name one.');
      throw new OAuthError('invalid_request', `${k} must be given once.`);
    }
    if (v.length > 4000) throw new OAuthError('invalid_request', `${k} is too long.`);
    if (v !== '') out[k] = v;
  }
  return out;
}

export function requireForm(req: { headers: { 'content-type'?: string } }): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new OAuthError('invalid_request', 'Send the parameters as application/x-www-form-urlencoded.');
  }
}
