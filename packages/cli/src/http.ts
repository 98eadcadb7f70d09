import { CliError, EXIT } from './errors.js';

/** A request to the server gives up after this long. */
export const REQUEST_TIMEOUT_MS = 30_000;

export interface HttpRequest {
  method?: 'GET' | 'POST' | 'DELETE';
  /** Path (and query) below the server URL, starting with `/`; or an absolute URL from discovery. */
  path: string;
  /** A JSON body. */
  json?: unknown;
  /** A form body (the OAuth endpoints). */
  form?: Record<string, string>;
  bearer?: string;
  /** Sent as `x-org-id`: the org the request acts in. */
  org?: string;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON, or null for an empty body. */
  body: unknown;
}

/**
 * Sends one request. Resolves for any HTTP status the server answered with; rejects with a
 * `CliError` only when there was no usable answer (unreachable, timed out, not JSON).
 */
export async function send(server: string, r: HttpRequest): Promise<HttpResponse> {
  const headers: Record<string, string> = { accept: 'application/json' };
  let body: string | undefined;
  if (r.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(r.form).toString();
  } else if (r.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(r.json);
  }
  if (r.bearer) headers.authorization = `Bearer ${r.bearer}`;
  if (r.org) headers['x-org-id'] = r.org;
  let res: Response;
  try {
    res = await fetch(/^https?:\/\//.test(r.path) ? r.path : `${server}${r.path}`, {
      method: r.method ?? (body === undefined ? 'GET' : 'POST'),
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    throw unreachable(server, err);
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw unreachable(server, err);
  }
  if (text === '') return { status: res.status, headers: res.headers, body: null };
  try {
    return { status: res.status, headers: res.headers, body: JSON.parse(text) as unknown };
  } catch {
    if (res.status >= 500) return { status: res.status, headers: res.headers, body: null };
    throw new CliError(
      EXIT.unavailable,
      'bad_response',
      `${server} answered ${r.path} with something that is not JSON (HTTP ${res.status}).`,
      { status: res.status, hint: 'Is this the URL of a Latchkey server?' },
    );
  }
}

/** Sends a request and returns the body of a 2xx answer; anything else throws the mapped error. */
export async function call<T>(server: string, r: HttpRequest): Promise<T> {
  const res = await send(server, r);
  if (res.status >= 200 && res.status < 300) return res.body as T;
  throw errorFrom(server, res);
}

function unreachable(server: string, err: unknown): CliError {
  const e = err as { name?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError')
    return new CliError(
      EXIT.unavailable,
      'timeout',
      `${server} did not answer within ${REQUEST_TIMEOUT_MS / 1000} s.`,
    );
  const why = e.cause?.code ?? e.cause?.message ?? (err instanceof Error ? err.message : String(err));
  return new CliError(EXIT.unavailable, 'unreachable', `Cannot reach ${server} (${why}).`, {
    hint: 'Check the URL (--server or LATCHKEY_URL) and that the server is running.',
  });
}

const text = (v: unknown, max = 500): string | undefined =>
  typeof v === 'string' && v.trim() ? v.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, max) : undefined;

/**
 * The one mapping from a server's error answer to a CLI error. It reads both wire formats:
 * RFC 9457 problem details (`/api/v1`: `{type, title, status, code, detail}`) and RFC 6749
 * errors (`/api/oauth`: `{error, error_description}`). 401 means the credential; 5xx and
 * anything unrecognisable mean the server; every other status is a refusal of this request.
 */
export function errorFrom(server: string, res: HttpResponse): CliError {
  const b = (res.body && typeof res.body === 'object' ? res.body : {}) as Record<string, unknown>;
  const code = text(b.code, 100) ?? text(b.error, 100) ?? `http_${res.status}`;
  const detail = text(b.detail) ?? text(b.error_description) ?? text(b.title);
  const data: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(b)) {
    if (!['type', 'title', 'status', 'code', 'detail', 'error', 'error_description', 'instance'].includes(k))
      data[k] = v;
  }
  const extra = { status: res.status, ...(Object.keys(data).length ? { data } : {}) };
  if (res.status >= 500)
    return new CliError(
      EXIT.unavailable,
      code,
      `${server} failed to answer (HTTP ${res.status})${detail ? `: ${detail}` : '.'}`,
      extra,
    );
  if (res.status === 401)
    return new CliError(EXIT.auth, code, detail ?? 'The server did not accept the credential.', {
      ...extra,
      hint: 'Run `latchkey login` to sign in again.',
    });
  if (res.status === 429) {
    const after = res.headers.get('retry-after');
    return new CliError(
      EXIT.failed,
      code,
      `${detail ?? 'Too many requests.'}${after ? ` Try again in ${after} s.` : ''}`,
      extra,
    );
  }
  if (!detail && res.status === 404)
    return new CliError(EXIT.failed, code, 'Not found.', {
      ...extra,
      hint: 'Is this the URL of a Latchkey server, and a recent version?',
    });
  return new CliError(
    EXIT.failed,
    code,
    detail ?? `The server refused the request (HTTP ${res.status}).`,
    extra,
  );
}
