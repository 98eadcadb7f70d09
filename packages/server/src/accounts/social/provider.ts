import * as oauth from 'oauth4webapi';
import type { IdentityProvider } from '../../db/schema/accounts.js';
import { type FederationErrorCode, toFederationError } from '../../federation/errors.js';
import { requestOptions } from '../../federation/outbound.js';
import type { Flow } from '../../federation/transaction.js';
import type { OutboundPolicy } from '../../lib/outbound-fetch.js';
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

/** Who the provider says the person is. */
export interface Profile {
  subject: string;
  /** The address the provider named, normalised; null when it named none or an invalid one. */
  email: string | null;
  /**
   * The provider says it proved `email` (`claims.ts`: `verified`); only then may the address find
   * or make an account.
   */
  emailVerified: boolean;
  name: string | null;
}

/** A sign-in provider: one file per provider (`github.ts`, `google.ts`), looked up by id. */
export interface SocialProvider {
  readonly id: ProviderId;
  /** Shown on buttons and in messages. */
  readonly name: string;
  /** The URL to send the browser to. */
  authorizationUrl(f: Flow): Promise<URL>;
  /** Validates the callback, redeems the code and reads the profile. Throws on any failure. */
  complete(callback: URLSearchParams, f: Flow): Promise<Profile>;
}

/**
 * Turns anything a provider exchange threw into a stable code (see `toFederationError`): the
 * provider unreachable, the person's refusal, or a provider error.
 */
export function toSocialError(err: unknown): SocialError {
  if (err instanceof SocialError) return err;
  const e = toFederationError(err);
  return new SocialError(SOCIAL_CODES[e.code], e.message);
}

const SOCIAL_CODES: Readonly<Record<FederationErrorCode, SocialErrorCode>> = {
  access_denied: 'access_denied',
  unreachable: 'provider_unreachable',
  provider_error: 'provider_error',
};

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
    requestOptions(url, net, SOCIAL_LIMITS.providerTimeoutMs),
  );
  if (res.status >= 500) throw new SocialError('provider_unreachable', `HTTP ${res.status} from ${url}`);
  if (res.status !== 200) throw new SocialError('provider_error', `HTTP ${res.status} from ${url}`);
  try {
    return (await res.json()) as unknown;
  } catch {
    throw new SocialError('provider_error', `not JSON from ${url}`);
  }
}
