import * as oauth from 'oauth4webapi';
import { OutboundFetchError } from '../lib/outbound-fetch.js';

/**
 * Why an exchange with an identity provider failed, in the words every caller maps to its own
 * codes (`SocialError` for social sign-in, `SsoError` for SSO) at its edge.
 */
export type FederationErrorCode =
  /** The person said no at the provider. */
  | 'access_denied'
  /** The provider did not answer, timed out, refused the connection or answered 5xx. */
  | 'unreachable'
  /** The provider answered, but not with a usable sign-in (an error, an invalid ID token…). */
  | 'provider_error';

export class FederationError extends Error {
  constructor(
    readonly code: FederationErrorCode,
    detail?: string,
  ) {
    super(detail ?? code);
    this.name = 'FederationError';
  }
}

/**
 * Turns anything a provider exchange threw into a `FederationError`. Network failures, timeouts
 * and 5xx answers mean the provider is unreachable; an authorization response `access_denied` is
 * the person's refusal; anything else it said is a provider error. A refused address or URL is the
 * configuration's fault, not an outage, so it is a provider error too (no failover for it).
 */
export function toFederationError(err: unknown): FederationError {
  if (err instanceof FederationError) return err;
  if (err instanceof OutboundFetchError) {
    const down = err.code === 'timeout' || err.code === 'network';
    return new FederationError(down ? 'unreachable' : 'provider_error', err.message);
  }
  if (err instanceof oauth.AuthorizationResponseError) {
    return new FederationError(err.error === 'access_denied' ? 'access_denied' : 'provider_error', err.error);
  }
  if (err instanceof oauth.ResponseBodyError) {
    return new FederationError(err.status >= 500 ? 'unreachable' : 'provider_error', err.error);
  }
  const e = err as { name?: string; cause?: unknown; message?: string };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') {
    return new FederationError('unreachable', 'timed out');
  }
  if (err instanceof TypeError && e.message === 'fetch failed') {
    return new FederationError('unreachable', 'connection failed');
  }
  if (err instanceof oauth.OperationProcessingError && err.cause instanceof Response) {
    if (err.cause.status >= 500) return new FederationError('unreachable', `HTTP ${err.cause.status}`);
  }
  return new FederationError('provider_error', e?.message?.slice(0, 200));
}
