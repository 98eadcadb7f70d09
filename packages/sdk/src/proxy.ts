import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * A same-origin proxy: an app serves Latchkey's browser endpoints (`/api/auth/`, `/login`,
 * `/api/oauth/`…) on its own origin, so the session cookie is first-party. It forwards only
 * allow-listed paths, refuses every ambiguous path without forwarding it, and never follows redirects.
 */

/** Limits, in one place. */
/** The longest a whole exchange with Latchkey may take, request body to last response byte. */
export const PROXY_TIMEOUT_MS = 15_000;
/** Longest request path (without the query) the proxy forwards. */
export const MAX_PROXY_PATH_LENGTH = 2_048;

export interface ProxyOptions {
  /** Latchkey's base URL (its PUBLIC_URL, or an internal address), http or https. */
  target: string;
  /** Path prefixes to forward: `/api/auth` forwards `/api/auth` and `/api/auth/…`, not `/api/authx`. */
  allow: readonly string[];
  /** Test seam. */
  fetch?: typeof fetch;
}

/** What `checkProxyPath` decided: forward this path and query, or not ours, or refused as ambiguous. */
export type ProxyPathDecision = { forward: string } | { refuse: 'outside' | 'unsafe' };

// RFC 3986 pchar without `;` (path parameters are read differently by different servers), plus `/`.
const PATH_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,=:@%/]*$/;
const QUERY_CHARS = /^[\x21-\x22\x24-\x7e]*$/; // visible ASCII without `#`
const PERCENT = /%(?![0-9A-Fa-f]{2})/;
const CONTROL = /[\x00-\x1f\x7f]/;

const underPrefix = (path: string, prefix: string) =>
  path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`);

/** Why a path is ambiguous, or null when it means exactly one thing to every server. */
function unsafePath(path: string): string | null {
  if (!path.startsWith('/')) return 'not origin-form';
  if (path.length > MAX_PROXY_PATH_LENGTH) return 'too long';
  if (!PATH_CHARS.test(path)) return 'forbidden character';
  if (PERCENT.test(path)) return 'invalid percent-encoding';
  const segments = path.slice(1).split('/');
  for (let i = 0; i < segments.length; i++) {
    const raw = segments[i]!;
    if (raw === '' && i < segments.length - 1) return 'empty segment';
    let s: string;
    try {
      s = decodeURIComponent(raw);
    } catch {
      return 'invalid percent-encoding';
    }
    if (s === '.' || s === '..') return 'dot segment';
    if (s.includes('/') || s.includes('\\')) return 'encoded slash';
    if (CONTROL.test(s)) return 'control character';
    if (s.includes('%')) return 'double encoding';
  }
  return null;
}

/**
 * The one path check both proxies use. `requestTarget` is the raw origin-form target
 * (`/api/auth/session?x=1`). A path under an allowed prefix is forwarded only if it is
 * unambiguous: no dot segments (plain or encoded), no encoded slashes or backslashes, no empty
 * segments, no control characters, valid percent-encoding — else `unsafe`. Any other path is
 * `outside`. Does NOT decode or normalise what it forwards: the upstream sees the exact bytes checked.
 */
export function checkProxyPath(requestTarget: string, allow: readonly string[]): ProxyPathDecision {
  const q = requestTarget.indexOf('?');
  const path = q === -1 ? requestTarget : requestTarget.slice(0, q);
  const query = q === -1 ? '' : requestTarget.slice(q);
  if (!allow.some((p) => underPrefix(path, p))) return { refuse: 'outside' };
  if (unsafePath(path) !== null || !QUERY_CHARS.test(query)) return { refuse: 'unsafe' };
  return { forward: path + query };
}

function validate(name: string, o: ProxyOptions): { base: string; allow: readonly string[] } {
  let target: URL;
  try {
    target = new URL(o.target);
  } catch {
    throw new TypeError(`${name}: target must be an absolute http(s) URL.`);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:')
    throw new TypeError(`${name}: target must be an absolute http(s) URL.`);
  if (target.username || target.password || target.search || target.hash)
    throw new TypeError(`${name}: target must not carry credentials, a query or a fragment.`);
  if (!Array.isArray(o.allow) || o.allow.length === 0)
    throw new TypeError(`${name}: allow must list at least one path prefix.`);
  for (const p of o.allow) {
    if (typeof p !== 'string' || !p.startsWith('/') || p === '/' || unsafePath(p) !== null)
      throw new TypeError(
        `${name}: allow entries must be plain paths starting with "/" (not "/" itself): ${JSON.stringify(p)}.`,
      );
  }
  if (o.fetch !== undefined && typeof o.fetch !== 'function')
    throw new TypeError(`${name}: fetch must be a function.`);
  return { base: target.href.replace(/\/+$/, ''), allow: Object.freeze([...o.allow]) };
}

// RFC 9110 §7.6.1 hop-by-hop fields, plus what fetch sets itself or must not receive.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
const DROPPED_REQUEST = new Set(['host', 'expect', 'forwarded', 'accept-encoding']);
const DECODED_BY_FETCH = new Set(['gzip', 'x-gzip', 'deflate', 'br']);

function hopByHop(name: string, connection: string | null): boolean {
  if (HOP_BY_HOP.has(name) || name.startsWith('proxy-')) return true;
  return connection !== null && connection.split(',').some((t) => t.trim().toLowerCase() === name);
}

interface Forwarded {
  for?: string | undefined;
  proto: string;
  host?: string | undefined;
}

/** The headers to send upstream: the client's minus hop-by-hop fields, with our own X-Forwarded-*. */
function upstreamHeaders(incoming: Iterable<[string, string]>, connection: string | null, f: Forwarded) {
  const h = new Headers();
  for (const [k, v] of incoming) {
    const name = k.toLowerCase();
    if (hopByHop(name, connection) || DROPPED_REQUEST.has(name) || name.startsWith('x-forwarded-')) continue;
    h.append(name, v);
  }
  // Bodies pass through as they come: fetch would otherwise decode them behind our back.
  h.set('accept-encoding', 'identity');
  if (f.for) h.set('x-forwarded-for', f.for);
  h.set('x-forwarded-proto', f.proto);
  if (f.host) h.set('x-forwarded-host', f.host);
  return h;
}

/** The headers to pass back: the upstream's minus hop-by-hop fields, every Set-Cookie kept apart. */
function downstreamHeaders(upstream: Headers): Headers {
  const out = new Headers();
  const connection = upstream.get('connection');
  const encoding = upstream.get('content-encoding')?.trim().toLowerCase();
  const decoded = encoding !== undefined && DECODED_BY_FETCH.has(encoding);
  // forEach, not for…of: it type-checks whichever Headers typing (Node's or the DOM's) is in scope.
  upstream.forEach((v, k) => {
    if (hopByHop(k, connection) || k === 'set-cookie') return;
    if (decoded && (k === 'content-encoding' || k === 'content-length')) return;
    out.append(k, v);
  });
  for (const c of upstream.getSetCookie()) out.append('set-cookie', c);
  return out;
}

type Failure = { status: number; body: { error: string; error_description: string } };
const NOT_FOUND: Failure = {
  status: 404,
  body: { error: 'not_found', error_description: 'No such path.' },
};
const BAD_GATEWAY: Failure = {
  status: 502,
  body: { error: 'bad_gateway', error_description: 'Latchkey could not be reached.' },
};
const GATEWAY_TIMEOUT: Failure = {
  status: 504,
  body: { error: 'gateway_timeout', error_description: 'Latchkey did not answer in time.' },
};
const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' };

/** Sends the request upstream within `PROXY_TIMEOUT_MS`; the upstream's response, or why it failed. */
async function exchange(
  doFetch: typeof fetch,
  url: string,
  init: { method: string; headers: Headers; body: ReadableStream | null },
  cancel: AbortController,
): Promise<{ response: Response } | { failure: Failure }> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    cancel.abort();
  }, PROXY_TIMEOUT_MS);
  timer.unref();
  cancel.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  if (!init.body) init.headers.delete('content-length');
  try {
    const response = await doFetch(url, {
      method: init.method,
      headers: init.headers,
      body: init.body,
      redirect: 'manual',
      signal: cancel.signal,
      ...(init.body ? { duplex: 'half' } : {}),
    });
    return { response };
  } catch {
    return { failure: timedOut ? GATEWAY_TIMEOUT : BAD_GATEWAY };
  }
}

const noBody = (method: string, status: number) =>
  method === 'HEAD' || status === 204 || status === 205 || status === 304;

/** Node request fields Express adds; read when present so the app's `trust proxy` setting applies. */
interface ExpressFields {
  originalUrl?: string;
  ip?: string;
  protocol?: string;
}

function* nodeHeaders(h: IncomingHttpHeaders): Iterable<[string, string]> {
  for (const [k, v] of Object.entries(h)) {
    if (Array.isArray(v)) for (const x of v) yield [k, x];
    else if (v !== undefined) yield [k, v];
  }
}

/**
 * A Node handler (node:http, Express, Connect) that forwards requests under `allow` to `target`.
 * Method, headers (Cookie and Authorization included) and body (streamed) pass through; Host becomes
 * the target's; hop-by-hop fields are dropped; X-Forwarded-For/-Proto/-Host come from this
 * connection (Express's `req.ip`/`req.protocol` when present), never from the client's own headers.
 * Status, headers (each Set-Cookie apart) and body come back as they are; redirects are not followed.
 *
 * A path under `allow` that is ambiguous is refused with 404 and not forwarded. A path outside
 * `allow` goes to `next()` when given, else 404. Mount it before any body parser, and at the app
 * root or on a path: it checks Express's `originalUrl`, so the prefixes are always full paths.
 * Does NOT rewrite `Location` or cookie attributes: point Latchkey's PUBLIC_URL at the app's origin.
 */
export function latchkeyProxy(o: ProxyOptions) {
  const { base, allow } = validate('latchkeyProxy', o);
  const doFetch = o.fetch ?? fetch;

  // Never throws: it runs in the last catch of a request nobody awaits.
  const fail = (res: ServerResponse, f: Failure) => {
    try {
      if (res.headersSent) res.destroy();
      else res.writeHead(f.status, JSON_HEADERS).end(JSON.stringify(f.body));
    } catch {
      res.destroy();
    }
  };

  return function latchkeyProxyHandler(
    req: IncomingMessage,
    res: ServerResponse,
    next?: (err?: unknown) => void,
  ): void {
    const ex = req as IncomingMessage & ExpressFields;
    const decision = checkProxyPath(ex.originalUrl ?? req.url ?? '', allow);
    if ('refuse' in decision) {
      if (decision.refuse === 'outside' && next) next();
      else fail(res, NOT_FOUND);
      return;
    }
    const cancel = new AbortController();
    res.once('close', () => cancel.abort());

    void (async () => {
      const method = req.method ?? 'GET';
      const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
      const headers = upstreamHeaders(nodeHeaders(req.headers), req.headers.connection ?? null, {
        for: ex.ip ?? req.socket.remoteAddress,
        proto: ex.protocol ?? (encrypted ? 'https' : 'http'),
        host: req.headers.host,
      });
      const hasBody =
        method !== 'GET' &&
        method !== 'HEAD' &&
        (req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0);
      const body = hasBody ? (Readable.toWeb(req) as unknown as ReadableStream<Uint8Array>) : null;
      const sent = await exchange(doFetch, base + decision.forward, { method, headers, body }, cancel);
      if ('failure' in sent) return fail(res, sent.failure);
      const r = sent.response;
      const out: Record<string, string | string[]> = {};
      downstreamHeaders(r.headers).forEach((v, k) => {
        if (k !== 'set-cookie') out[k] = v;
      });
      const cookies = r.headers.getSetCookie();
      if (cookies.length > 0) out['set-cookie'] = cookies;
      res.writeHead(r.status, out);
      if (!r.body || noBody(method, r.status)) {
        await r.body?.cancel();
        res.end();
        return;
      }
      await pipeline(Readable.fromWeb(r.body as unknown as Parameters<typeof Readable.fromWeb>[0]), res);
    })()
      .catch(() => fail(res, BAD_GATEWAY))
      .finally(() => cancel.abort());
  };
}

/**
 * The same proxy for fetch runtimes: `(Request) => Promise<Response>`, with the same path check.
 * Everything not forwarded answers 404. The runtime has already parsed `request.url`, so dot
 * segments there are resolved before the check; encoded ones and encoded slashes are still refused.
 * Pass `info.remoteAddress` to send X-Forwarded-For; the client's own X-Forwarded-* are dropped.
 */
export function latchkeyFetchProxy(o: ProxyOptions) {
  const { base, allow } = validate('latchkeyFetchProxy', o);
  const doFetch = o.fetch ?? fetch;
  const answer = (f: Failure) =>
    new Response(JSON.stringify(f.body), { status: f.status, headers: JSON_HEADERS });

  return async function latchkeyFetchProxyHandler(
    request: Request,
    info: { remoteAddress?: string } = {},
  ): Promise<Response> {
    const url = new URL(request.url);
    const decision = checkProxyPath(url.pathname + url.search, allow);
    if ('refuse' in decision) return answer(NOT_FOUND);
    const method = request.method;
    const cancel = new AbortController();
    request.signal.addEventListener('abort', () => cancel.abort(), { once: true });
    try {
      const pairs: [string, string][] = [];
      request.headers.forEach((v, k) => pairs.push([k, v]));
      const headers = upstreamHeaders(pairs, request.headers.get('connection'), {
        for: info.remoteAddress,
        proto: url.protocol.slice(0, -1),
        host: url.host,
      });
      const body = method === 'GET' || method === 'HEAD' ? null : request.body;
      const sent = await exchange(doFetch, base + decision.forward, { method, headers, body }, cancel);
      if ('failure' in sent) return answer(sent.failure);
      const r = sent.response;
      const keep = !noBody(method, r.status);
      if (!keep) await r.body?.cancel();
      return new Response(keep ? r.body : null, { status: r.status, headers: downstreamHeaders(r.headers) });
    } catch {
      cancel.abort();
      return answer(BAD_GATEWAY);
    }
  };
}
