/**
 * Latchkey's errors, protocol-neutral: the problem table (every code the management API answers)
 * and `ApiError`, which domain code throws. `http/errors.ts` turns them into responses.
 */
import type { ErrorCode } from '@latchkey/contract';

/**
 * Every error code the management API (/api/v1, /api/auth) can answer, in one place. Codes are
 * stable: clients and tests match on them, never on the prose in `detail`. The keys are exactly the
 * wire contract's `ERROR_CODES` (`@latchkey/contract`): a code missing here or there fails the
 * typecheck.
 */
export const PROBLEMS = {
  invalid_request: { status: 400, title: 'Invalid request' },
  org_required: { status: 400, title: 'Organisation required' },
  weak_password: { status: 400, title: 'Password too weak' },
  invalid_token: { status: 400, title: 'Invalid or expired token' },
  setup_done: { status: 400, title: 'Setup already completed' },
  invalid_code: { status: 400, title: 'Wrong verification code' },
  code_expired: { status: 400, title: 'Verification code expired' },
  verification_locked: { status: 400, title: 'Too many wrong codes' },
  domain_not_verified: { status: 400, title: 'The domain’s DNS record was not found' },
  unauthorized: { status: 401, title: 'Authentication required' },
  invalid_credentials: { status: 401, title: 'Invalid email or password' },
  second_factor_required: { status: 401, title: 'Prove your second factor to finish signing in' },
  forbidden: { status: 403, title: 'Forbidden' },
  org_forbidden: { status: 403, title: 'No access to this organisation' },
  csrf: { status: 403, title: 'Cross-site request refused' },
  signup_closed: { status: 403, title: 'Sign-ups are closed' },
  sso_required: { status: 403, title: 'Sign in through your organisation’s SSO' },
  session_required: { status: 403, title: 'A browser session is required' },
  credential_not_accepted: { status: 403, title: 'This kind of credential is not accepted here' },
  reauthentication_required: { status: 403, title: 'Sign in again to do this' },
  email_unverified: { status: 403, title: 'Verify your email address first' },
  account_disabled: { status: 403, title: 'This account is disabled' },
  org_suspended: { status: 403, title: 'This organisation is suspended' },
  agent_signup_blocked: { status: 403, title: 'Agent signup is blocked here' },
  step_up_required: { status: 403, title: 'Prove your second factor again' },
  mfa_enrolment_required: { status: 403, title: 'This organisation requires a second factor' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'Conflict' },
  email_taken: { status: 409, title: 'Email already registered' },
  slug_taken: { status: 409, title: 'Slug already taken' },
  last_owner: { status: 409, title: 'An organisation needs an owner' },
  last_sign_in_method: { status: 409, title: 'The last way to sign in cannot be removed' },
  mfa_required_by_org: { status: 409, title: 'An organisation you belong to requires a second factor' },
  sso_untested: { status: 409, title: 'The SSO connection has not passed a test' },
  domain_claimed: { status: 409, title: 'Another organisation verified this domain' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  uri_too_long: { status: 414, title: 'URI too long' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  rate_limited: { status: 429, title: 'Too many requests' },
  too_many_pending: { status: 429, title: 'Too many pending agent signups' },
  internal_error: { status: 500, title: 'Internal error' },
  unavailable: { status: 503, title: 'Service unavailable' },
  service_unavailable: { status: 503, title: 'Service temporarily unavailable' },
  dns_lookup_failed: { status: 503, title: 'The DNS lookup failed' },
} as const satisfies Record<ErrorCode, { status: number; title: string }>;

export type ProblemCode = keyof typeof PROBLEMS;

export interface ProblemOptions {
  headers?: Record<string, string>;
  /** Extension members added to the problem body (RFC 9457 §3.2). */
  extra?: Record<string, unknown>;
}

/** A typed API error. Thrown anywhere below a route; turned into problem+json by `sendProblem`. */
export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ProblemCode,
    readonly detail?: string,
    readonly options: ProblemOptions = {},
  ) {
    super(detail ?? PROBLEMS[code].title);
    this.name = 'ApiError';
    this.status = PROBLEMS[code].status;
  }
}

/** Seconds a client is told to wait when a dependency (database, Redis) is down. */
export const DEPENDENCY_RETRY_AFTER_S = 5;

/** A dependency is down: 503 with Retry-After, and nothing about which or why. */
export function serviceUnavailable(): ApiError {
  return new ApiError('service_unavailable', 'The service is temporarily unavailable; try again shortly.', {
    headers: { 'retry-after': String(DEPENDENCY_RETRY_AFTER_S) },
  });
}

const CONNECTION_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
const DATABASE_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Cannot use a pool after calling end',
  'Client was closed and is not queryable',
];
const CACHE_MESSAGES = [
  'Connection is closed.',
  "Stream isn't writeable",
  'Command timed out',
  'Reached the max retries per request limit',
];

/**
 * Which dependency an error says is unreachable: the database (a refused or dropped connection,
 * SQLSTATE class 08, a server shutting down or out of connections) or the cache (Redis), else null.
 */
export function dependencyFailure(err: unknown): 'database' | 'cache' | null {
  if (typeof err !== 'object' || err === null) return null;
  const e = err as { code?: unknown; message?: unknown; name?: unknown; errors?: unknown };
  const message = typeof e.message === 'string' ? e.message : '';
  const code = typeof e.code === 'string' ? e.code : '';
  if (e.name === 'MaxRetriesPerRequestError' || CACHE_MESSAGES.some((m) => message.includes(m)))
    return 'cache';
  if (/^08[0-9A-Z]{3}$/.test(code) || ['57P01', '57P02', '57P03', '53300', '53000'].includes(code))
    return 'database';
  if (DATABASE_MESSAGES.some((m) => message.includes(m))) return 'database';
  if (CONNECTION_ERRNOS.has(code)) return 'database';
  // Node's happy-eyeballs connect reports an AggregateError of per-address failures.
  if (Array.isArray(e.errors) && e.errors.some((x) => dependencyFailure(x) !== null)) return 'database';
  return null;
}

export function rateLimited(
  retryAfterSeconds: number,
  detail = 'Too many requests; try again later.',
): ApiError {
  return new ApiError('rate_limited', detail, { headers: { 'retry-after': String(retryAfterSeconds) } });
}

/** An RFC 9457 problem; `extra` members never replace the standard ones (`status` stays the HTTP status). */
export function problemBody(code: ProblemCode, detail?: string, extra?: Record<string, unknown>) {
  const p = PROBLEMS[code];
  return {
    ...extra,
    type: `urn:latchkey:problem:${code}`,
    title: p.title,
    status: p.status,
    code,
    ...(detail ? { detail } : {}),
  };
}
