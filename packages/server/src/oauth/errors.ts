import { ApiError } from '../errors.js';

/**
 * Every error code the OAuth endpoints answer (RFC 6749 §4.1.2.1, §5.2; RFC 7591 §3.2.2;
 * RFC 8628 §3.5; RFC 8707 §2; RFC 7009 §2.2.1), with its HTTP status. Stable: clients match on them.
 */
export const OAUTH_ERRORS = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  unsupported_response_type: 400,
  unsupported_token_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  access_denied: 400,
  authorization_pending: 400,
  slow_down: 400,
  expired_token: 400,
  invalid_client_metadata: 400,
  invalid_redirect_uri: 400,
  invalid_token: 401,
  insufficient_scope: 403,
  temporarily_unavailable: 503,
  server_error: 500,
} as const;

export type OAuthErrorCode = keyof typeof OAUTH_ERRORS;

/** A typed OAuth error. Thrown below an OAuth route; written to the wire only by `sendOAuthError`. */
export class OAuthError extends Error {
  constructor(
    readonly code: OAuthErrorCode,
    readonly description: string,
    readonly options: { status?: number; headers?: Record<string, string> } = {},
  ) {
    super(description);
    this.name = 'OAuthError';
  }
  get status(): number {
    return this.options.status ?? OAUTH_ERRORS[this.code];
  }
}

/** Problems the shared hooks raise (rate limit, malformed body…), in OAuth's vocabulary. */
export function fromApiError(err: ApiError): OAuthError {
  const headers = err.options.headers ?? {};
  switch (err.code) {
    case 'rate_limited':
      return new OAuthError('temporarily_unavailable', err.detail ?? 'Too many requests.', {
        status: 429,
        headers,
      });
    case 'unauthorized':
      return new OAuthError('invalid_client', err.detail ?? 'Client authentication failed.', { headers });
    case 'internal_error':
      return new OAuthError('server_error', 'The server could not complete the request.');
    case 'unavailable':
      return new OAuthError('temporarily_unavailable', 'The server is not ready.');
    case 'service_unavailable':
      return new OAuthError('temporarily_unavailable', 'The server is temporarily unavailable.', {
        headers,
      });
    case 'payload_too_large':
      return new OAuthError('invalid_request', 'The request body is too large.', { status: 413 });
    case 'unsupported_media_type':
      return new OAuthError('invalid_request', 'Send application/x-www-form-urlencoded.', { status: 415 });
    default:
      return new OAuthError('invalid_request', err.detail ?? 'The request is not valid.', {
        status: err.status >= 400 && err.status < 500 ? err.status : 400,
        headers,
      });
  }
}
