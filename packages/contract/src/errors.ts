/**
 * The error codes of Latchkey's management API (`/api/v1`, `/api/auth`): the `code` member of every
 * RFC 9457 problem it answers. Codes are stable: match on them, never on the prose in `detail`.
 * The server's problem table (status and title per code) has exactly these keys.
 */
export const ERROR_CODES = [
  'invalid_request',
  'org_required',
  'weak_password',
  'invalid_token',
  'setup_done',
  'invalid_code',
  'code_expired',
  'verification_locked',
  'domain_not_verified',
  'unauthorized',
  'invalid_credentials',
  'second_factor_required',
  'forbidden',
  'org_forbidden',
  'csrf',
  'signup_closed',
  'sso_required',
  'session_required',
  'credential_not_accepted',
  'reauthentication_required',
  'email_unverified',
  'account_disabled',
  'org_suspended',
  'agent_signup_blocked',
  'step_up_required',
  'mfa_enrolment_required',
  'not_found',
  'method_not_allowed',
  'conflict',
  'email_taken',
  'slug_taken',
  'last_owner',
  'last_sign_in_method',
  'mfa_required_by_org',
  'sso_untested',
  'domain_claimed',
  'payload_too_large',
  'uri_too_long',
  'unsupported_media_type',
  'rate_limited',
  'too_many_pending',
  'internal_error',
  'unavailable',
  'service_unavailable',
  'dns_lookup_failed',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * An RFC 9457 problem as the management API answers it (`application/problem+json`). Extension
 * members (RFC 9457 §3.2) may sit beside the standard ones.
 */
export interface Problem {
  /** `urn:latchkey:problem:<code>`. */
  type: string;
  title: string;
  /** The HTTP status. */
  status: number;
  code: ErrorCode;
  /** What went wrong, as a sentence. */
  detail?: string;
  [extension: string]: unknown;
}
