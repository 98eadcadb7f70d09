import * as oauth from 'oauth4webapi';
import type { IdentityProvider } from '../../db/schema.js';
import { OutboundFetchError, outboundFetcher, type OutboundPolicy } from '../../lib/outbound-fetch.js';
import { SOCIAL_LIMITS } from '../limits.js';

export type ProviderId = IdentityProvider;

/**
 * Why a social sign-in did not end in a session. Stable codes: the callback sends the browser to
 * `/login?error=<code>`, and the login page says each in words.
 */
export type SocialErrorCode =
  /** The person said no at the provider. */
  | 'access_denied'
  /** No login transaction for this browser, a used or expired one, or a `state` that does not match. */
  | 'bad_state'
  /** The provider did not answer, timed out, or answered 5xx. */
  | 'provider_unreachable'
  /** The provider answered, but not with a usable sign-in (an error, an invalid ID token…). */
  | 'provider_error'
  /** The provider's email is missing or unverified, so it can neither create nor join an account. */
  | 'email_unverified'
  /** This provider account already signs in another Latchkey account. */
  | 'identity_taken'
  /** The account already has an identity at this provider. */
  | 'already_linked'
  /** The sign-up policy is `invite-only` and nothing admits this person. */
  | 'signup_closed'
  /** The sign-up policy is `waitlist`: the request was recorded (not a failure, but no session). */
  | 'waitlisted'
  /** The provider is not configured on this instance. */
  | 'provider_disabled'
  /** Something changed meanwhile (two sign-ins racing); trying again works. */
  | 'try_again';

export class SocialError extends Error {
  constructor(
    readonly code: SocialErrorCode,
    detail?: string,
  ) {
    super(detail ?? code);
    this.name = 'SocialError';
  }
}

/** Who the provider says the person is. `email` is normalised, or null when unusable. */
export interface Profile {
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
}

/** What the authorization request carries, and what the callback must match. */
export interface FlowSecrets {
  state: string;
  codeVerifier: string;
  nonce: string;
  redirectUri: string;
}

/** A sign-in provider: one file per provider (`github.ts`, `google.ts`), looked up by id. */
export interface SocialProvider {
  readonly id: ProviderId;
  /** Shown on buttons and in messages. */
  readonly name: string;
  /** The URL to send the browser to. */
  authorizationUrl(f: FlowSecrets): Promise<URL>;
  /** Validates the callback, redeems the code and reads the profile. Throws on any failure. */
  complete(callback: URLSearchParams, f: FlowSecrets): Promise<Profile>;
}

/**
 * Options for every request to a provider: each goes through the guarded outbound fetch
 * (`lib/outbound-fetch.ts`) with a timeout; plain http only where the policy allows loopback.
 */
export function requestOptions(
  url: string,
  net: OutboundPolicy,
  timeoutMs: number = SOCIAL_LIMITS.providerTimeoutMs,
) {
  return {
    signal: AbortSignal.timeout(timeoutMs),
    [oauth.customFetch]: outboundFetcher({ ...net, timeoutMs }),
    ...(new URL(url).protocol === 'http:' ? { [oauth.allowInsecureRequests]: true } : {}),
  };
}

/**
 * Turns anything a provider exchange threw into a stable code. Network failures, timeouts and
 * 5xx answers mean the provider is unreachable; anything else it said is a provider error.
 */
export function toSocialError(err: unknown): SocialError {
  if (err instanceof SocialError) return err;
  if (err instanceof OutboundFetchError) {
    // A refused address or URL is the configuration's fault, not an outage: no failover for it.
    const down = err.code === 'timeout' || err.code === 'network';
    return new SocialError(down ? 'provider_unreachable' : 'provider_error', err.message);
  }
  if (err instanceof oauth.AuthorizationResponseError) {
    return new SocialError(err.error === 'access_denied' ? 'access_denied' : 'provider_error', err.error);
  }
  if (err instanceof oauth.ResponseBodyError) {
    return new SocialError(err.status >= 500 ? 'provider_unreachable' : 'provider_error', err.error);
  }
  const e = err as { name?: string; cause?: unknown; message?: string };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') {
    return new SocialError('provider_unreachable', 'timed out');
  }
  if (err instanceof TypeError && e.message === 'fetch failed') {
    return new SocialError('provider_unreachable', 'connection failed');
  }
  if (err instanceof oauth.OperationProcessingError && err.cause instanceof Response) {
    if (err.cause.status >= 500) return new SocialError('provider_unreachable', `HTTP ${err.cause.status}`);
  }
  return new SocialError('provider_error', e?.message?.slice(0, 200));
}

/** Reads a JSON resource with the access token; a non-2xx answer is an error, 5xx unreachable. */
export async function getJson(
  url: string,
  accessToken: string,
  headers: Record<string, string>,
  net: OutboundPolicy,
) {
  const res = await oauth.protectedResourceRequest(
    accessToken,
    'GET',
    new URL(url),
    new Headers(headers),
    null,
    requestOptions(url, net),
  );
  if (res.status >= 500) throw new SocialError('provider_unreachable', `HTTP ${res.status} from ${url}`);
  if (res.status !== 200) throw new SocialError('provider_error', `HTTP ${res.status} from ${url}`);
  try {
    return (await res.json()) as unknown;
  } catch {
    throw new SocialError('provider_error', `not JSON from ${url}`);
  }
}
