/** A `fetch`-shaped function over `outboundFetch`, for libraries that take one. */
import { OutboundFetchError, outboundFetch, type OutboundOptions } from './outbound-fetch.js';

/** What `fetch` (and oauth4webapi's `customFetch`) passes as options. */
export interface FetchInit {
  method?: string;
  headers?: Record<string, string> | Headers | [string, string][];
  body?: unknown;
  redirect?: string;
  signal?: AbortSignal | null;
}

/**
 * A `fetch`-shaped function over `outboundFetch`, for libraries that take one (oauth4webapi's
 * `[customFetch]`, which also fetches JWKS). Honours `redirect: 'manual'`; sends string and
 * URLSearchParams bodies. Errors are `OutboundFetchError`s.
 */
export function outboundFetcher(opts: OutboundOptions): (url: string, init?: FetchInit) => Promise<Response> {
  return async (url, init = {}) => {
    const method = (init.method ?? 'GET').toUpperCase();
    if (method !== 'GET' && method !== 'POST') {
      throw new OutboundFetchError('invalid_url', `The method ${method} is not supported.`);
    }
    const headers: Record<string, string> = {};
    new Headers(init.headers ?? {}).forEach((value, name) => {
      headers[name] = value;
    });
    const b = init.body;
    let body: string | undefined;
    if (b === undefined || b === null) body = undefined;
    else if (typeof b === 'string') body = b;
    else if (b instanceof URLSearchParams) {
      body = b.toString();
      headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8';
    } else throw new OutboundFetchError('invalid_url', 'The request body type is not supported.');
    const res = await outboundFetch(
      url,
      { method, headers, ...(body !== undefined ? { body } : {}) },
      {
        ...opts,
        redirect: init.redirect === 'manual' || init.redirect === 'error' ? init.redirect : 'follow',
        ...(init.signal
          ? { signal: opts.signal ? AbortSignal.any([opts.signal, init.signal]) : init.signal }
          : {}),
      },
    );
    const out = new Headers();
    for (let i = 0; i + 1 < res.rawHeaders.length; i += 2)
      out.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
    const nullBody = [101, 204, 205, 304].includes(res.status);
    if (res.status < 200 || res.status > 599) {
      throw new OutboundFetchError('network', `${new URL(res.url).host} answered an invalid status.`);
    }
    return new Response(nullBody ? null : new Uint8Array(res.body), { status: res.status, headers: out });
  };
}
