/**
 * The one way the dashboard talks to Latchkey: same-origin fetch with the session cookie, JSON in
 * and out, the selected org sent as `x-org-id`, and RFC 9457 problems turned into `ApiProblem`s
 * whose message a person can act on.
 */
import type { ErrorCode, Problem as WireProblem } from '@latchkey/contract';

/** Codes the dashboard gives answers that are not problems: no answer at all, or one it cannot read. */
type LocalCode = 'network' | 'unknown';

/**
 * A problem as the dashboard holds it: the server's (`WireProblem`, the body every route answers
 * an error with), or one it made up for an answer that was not a problem, which has no `type`.
 * `code` stays a string: a newer server may send a code this build does not know.
 */
export interface Problem extends Partial<Pick<WireProblem, 'type' | 'title' | 'detail'>> {
  status: WireProblem['status'];
  code: ErrorCode | LocalCode | (string & {});
  /** From `Retry-After`, on 429s. */
  retryAfterSeconds?: number;
  [extension: string]: unknown;
}

export class ApiProblem extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title ?? problem.code);
    this.name = 'ApiProblem';
  }
  get code(): string {
    return this.problem.code;
  }
  get status(): number {
    return this.problem.status;
  }
}

export type { Page } from '@latchkey/contract';

let selectedOrg: string | null = null;
/** Called when any request comes back 401: the session ended (signed out elsewhere, expired). */
let onSignedOut: (() => void) | null = null;

export function setSelectedOrg(id: string | null): void {
  selectedOrg = id;
}

export function setSignedOutHandler(fn: (() => void) | null): void {
  onSignedOut = fn;
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  body?: unknown;
  /** The org to act in; defaults to the selected one; `null` sends no `x-org-id`. */
  org?: string | null;
  query?: Record<string, string | number | undefined | null>;
  signal?: AbortSignal;
}

function withQuery(path: string, query: RequestOptions['query']): string {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}${path.includes('?') ? '&' : '?'}${s}` : path;
}

export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const org = opts.org === undefined ? selectedOrg : opts.org;
  if (org) headers['x-org-id'] = org;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(withQuery(path, opts.query), {
      method: opts.method ?? 'GET',
      headers,
      credentials: 'same-origin',
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiProblem({ status: 0, code: 'network', title: 'Network error' });
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const p =
      body && typeof body === 'object' && typeof (body as Problem).code === 'string'
        ? (body as Problem)
        : {
            status: res.status,
            code: res.status >= 500 ? 'internal_error' : 'unknown',
            title: res.statusText,
          };
    const retry = Number(res.headers.get('retry-after'));
    if (Number.isFinite(retry) && retry > 0) p.retryAfterSeconds = retry;
    if (res.status === 401 && p.code === 'unauthorized') onSignedOut?.();
    throw new ApiProblem({ ...p, status: res.status });
  }
  return body as T;
}

export const get = <T>(path: string, opts: Omit<RequestOptions, 'method' | 'body'> = {}) =>
  api<T>(path, opts);
export const post = <T>(path: string, body?: unknown, opts: RequestOptions = {}) =>
  api<T>(path, { ...opts, method: 'POST', body: body ?? {} });
export const patch = <T>(path: string, body: unknown, opts: RequestOptions = {}) =>
  api<T>(path, { ...opts, method: 'PATCH', body });
export const put = <T>(path: string, body: unknown, opts: RequestOptions = {}) =>
  api<T>(path, { ...opts, method: 'PUT', body });
export const del = <T = void>(path: string, opts: RequestOptions = {}) =>
  api<T>(path, { ...opts, method: 'DELETE' });

/** `{id}` path segments, encoded. */
export function path(strings: TemplateStringsArray, ...values: string[]): string {
  return strings.reduce(
    (out, s, i) => out + s + (i < values.length ? encodeURIComponent(values[i]!) : ''),
    '',
  );
}

function wait(seconds: number | undefined): string {
  if (!seconds) return 'a little while';
  if (seconds < 90) return `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return minutes < 90 ? `${minutes} minutes` : `${Math.ceil(minutes / 60)} hours`;
}

/** `body/redirect_uris/0 must match format "uri"` → `Redirect uris 1: must match format "uri"`. */
function validationText(detail: string): string {
  const m = /^(?:body|querystring|params)(?:\/([^\s]*))? (.*)$/.exec(detail);
  if (!m) return detail;
  const field = (m[1] ?? '')
    .split('/')
    .filter(Boolean)
    .map((s) => (/^\d+$/.test(s) ? String(Number(s) + 1) : s.replace(/_/g, ' ')))
    .join(' ');
  const what = m[2]!.replace(/must NOT/g, 'must not');
  return field
    ? `${field[0]!.toUpperCase()}${field.slice(1)}: ${what}.`
    : `${what[0]!.toUpperCase()}${what.slice(1)}.`;
}

/** What to tell a person, per stable problem code. The server's `detail` is used where it is the specific part. */
const MESSAGES: { [C in ErrorCode | LocalCode]?: (p: Problem) => string } = {
  network: () => 'Latchkey could not be reached. Check your connection and try again.',
  unauthorized: () => 'Your session has ended. Sign in again.',
  // The server says which credential was wrong (the email or password, the current password, a passkey).
  invalid_credentials: (p) => p.detail ?? 'The email or password is wrong.',
  forbidden: (p) => p.detail ?? 'Your role in this organisation does not allow this.',
  org_forbidden: () => 'You do not have access to this organisation any more.',
  org_required: () => 'Choose an organisation first.',
  csrf: () => 'The request was refused because it did not come from this page. Reload and try again.',
  not_found: (p) =>
    !p.detail || p.detail.startsWith('No route')
      ? 'This is not available on this server.'
      : p.detail.startsWith('No such')
        ? `${p.detail} It may have been removed already.`
        : p.detail,
  conflict: (p) => p.detail ?? 'That conflicts with something that exists already.',
  email_taken: () => 'An account with this email already exists. Sign in instead.',
  slug_taken: () => 'That slug is taken. Choose another one.',
  last_owner: (p) => p.detail ?? 'An organisation needs an owner. Make someone else an owner first.',
  signup_closed: (p) => p.detail ?? 'New accounts are not open on this server.',
  last_sign_in_method: (p) => p.detail ?? 'This is your only way to sign in; add another first.',
  too_many_pending: (p) => p.detail ?? 'Too many requests are waiting already; try again later.',
  email_unverified: (p) =>
    p.detail ?? 'Verify your email address (use the link we mailed) before creating tokens or apps.',
  weak_password: (p) => p.detail ?? 'Choose a longer, less common password.',
  sso_untested: () => 'Test the connection and see the test pass before enabling it.',
  domain_claimed: (p) => p.detail ?? 'Another organisation verified this domain already.',
  domain_not_verified: (p) =>
    p.detail ?? 'The DNS record was not found. Publish it, wait a few minutes, and check again.',
  dns_lookup_failed: () => 'The DNS lookup failed, so nothing was changed. Try again in a moment.',
  invalid_token: () => 'This link or code is invalid, expired or already used.',
  invalid_request: (p) => (p.detail ? validationText(p.detail) : 'Some of the values are not valid.'),
  payload_too_large: () => 'That is too much to send at once.',
  rate_limited: (p) => `Too many attempts. Wait ${wait(p.retryAfterSeconds)} and try again.`,
  internal_error: () =>
    'Something went wrong on the server. Try again; if it keeps happening, tell your administrator.',
  unavailable: () => 'Latchkey is briefly unavailable. Try again in a moment.',
};

/** A sentence for any error the dashboard can meet. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiProblem) {
    const m = Object.hasOwn(MESSAGES, err.code) ? MESSAGES[err.code as ErrorCode | LocalCode] : undefined;
    if (m) return m(err.problem);
    return err.problem.detail ?? err.problem.title ?? 'The request failed.';
  }
  return 'Something went wrong in the dashboard. Reload the page and try again.';
}
