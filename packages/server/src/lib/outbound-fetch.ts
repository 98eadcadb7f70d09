import { lookup as dnsLookup } from 'node:dns/promises';
import type { Resolver } from 'node:dns/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { Config } from '../config/index.js';
import { resolverFor } from './dns.js';
import { bareHost, isForbiddenAddress, isLoopbackHost } from './outbound-address.js';

/**
 * The one way the server requests a URL that someone other than the operator chose: a Client ID
 * Metadata Document, an SSO identity provider's discovery document and the endpoints it names,
 * SAML metadata URLs, social providers' endpoints. Without it the server is an SSRF proxy.
 *
 * - https only; plain http only to a loopback host, and only with `allowLoopback` (tests).
 * - The host is resolved once, every address it resolves to is checked (anything but public
 *   unicast is refused: loopback, private, link-local, CGNAT, ULA, multicast, reserved,
 *   IPv4-mapped / -compatible / NAT64 / 6to4 IPv6 carrying such an address), and the connection is
 *   made to the checked address: no second lookup, so DNS rebinding has no gap to slip through.
 *   TLS still verifies the certificate for the hostname (SNI and Host stay the name).
 * - One total timeout (lookups, connection, every hop, the whole body), a size cap on the body,
 *   and at most `maxRedirects` redirects, each within the origin of the first URL and re-checked.
 *
 * It does NOT look at what comes back (status, type, contents): callers do. It sends no cookie
 * and no credential but the headers the caller passes.
 */
export const OUTBOUND_LIMITS = {
  timeoutMs: 5000,
  maxBytes: 1024 * 1024,
  maxRedirects: 3,
} as const;

export type OutboundFetchErrorCode =
  /** Not an absolute http(s) URL, credentials in it, or not https. */
  | 'invalid_url'
  /** The host is, or resolves to, an address that is not public unicast. */
  | 'forbidden_address'
  /** The whole exchange took longer than the timeout. */
  | 'timeout'
  /** The body is larger than the cap. */
  | 'too_large'
  /** A redirect to another origin, a malformed one, or too many. */
  | 'redirect_refused'
  /** The name does not resolve, or the connection failed. */
  | 'network';

export class OutboundFetchError extends Error {
  constructor(
    readonly code: OutboundFetchErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'OutboundFetchError';
  }
}

export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** Resolves a host name to every address it has. */
export type ResolveHost = (hostname: string) => Promise<readonly ResolvedAddress[]>;

/** Where the server may connect, and how it finds out where a name points. */
export interface OutboundPolicy {
  /** Testing only: loopback addresses are allowed, and plain http to a loopback host. */
  readonly allowLoopback: boolean;
  /** How names are resolved; the system's resolver (`dns.lookup`) when absent. */
  readonly resolve?: ResolveHost;
}

export interface OutboundOptions extends OutboundPolicy {
  readonly timeoutMs?: number;
  readonly maxBytes?: number;
  readonly maxRedirects?: number;
  /** `manual`: a 3xx answer is returned as is; `error`: refused. Default `follow` (same origin only). */
  readonly redirect?: 'follow' | 'manual' | 'error';
  /** Aborts the exchange (answered as `timeout`). */
  readonly signal?: AbortSignal;
}

export interface OutboundRequest {
  readonly method?: 'GET' | 'POST';
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
}

export interface OutboundResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Header pairs as received (for building a fetch `Response`). */
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
  /** The URL that answered, after redirects. */
  readonly url: string;
}

/** The system resolver: every address `dns.lookup` gives (so /etc/hosts counts too). */
export const systemResolve: ResolveHost = async (hostname) => {
  const list = await dnsLookup(hostname, { all: true, verbatim: true });
  return list.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/** A `ResolveHost` over a DNS resolver (A and AAAA records; fails only when both fail). */
export function resolveWith(resolver: Pick<Resolver, 'resolve4' | 'resolve6'>): ResolveHost {
  return async (hostname) => {
    const [v4, v6] = await Promise.allSettled([resolver.resolve4(hostname), resolver.resolve6(hostname)]);
    if (v4.status === 'rejected' && v6.status === 'rejected') throw v4.reason;
    return [
      ...(v4.status === 'fulfilled' ? v4.value.map((address) => ({ address, family: 4 as const })) : []),
      ...(v6.status === 'fulfilled' ? v6.value.map((address) => ({ address, family: 6 as const })) : []),
    ];
  };
}

/**
 * The policy for one kind of caller: its loopback allowance (a testing setting) and the resolver
 * that honours `DNS_SERVERS` (A and AAAA from those servers), or the system's when it is unset.
 */
export function outboundPolicy(config: Pick<Config, 'dnsServers'>, allowLoopback: boolean): OutboundPolicy {
  return config.dnsServers ? { allowLoopback, resolve: resolveWith(resolverFor(config)) } : { allowLoopback };
}

/**
 * Checks a URL without resolving it: absolute http(s), no credentials, https (or http to a
 * loopback host with `allowLoopback`), and an IP literal host that is allowed. Throws
 * `OutboundFetchError` (`invalid_url` or `forbidden_address`). A name is checked when it resolves.
 */
export function checkOutboundUrl(raw: string | URL, allowLoopback: boolean): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new OutboundFetchError('invalid_url', 'Not a URL.');
  }
  if (u.username || u.password)
    throw new OutboundFetchError('invalid_url', 'The URL must not hold credentials.');
  const host = bareHost(u);
  const loopbackHttp = u.protocol === 'http:' && allowLoopback && isLoopbackHost(host);
  if (u.protocol !== 'https:' && !loopbackHttp) {
    throw new OutboundFetchError('invalid_url', 'The URL must use https.');
  }
  if (!host) throw new OutboundFetchError('invalid_url', 'The URL has no host.');
  if (isIP(host) !== 0 && isForbiddenAddress(host, allowLoopback)) {
    throw new OutboundFetchError('forbidden_address', `${u.host} is not a public address.`);
  }
  return u;
}

/** Every address of the URL's host, each checked; a literal is its own only address. */
async function resolveChecked(
  u: URL,
  policy: OutboundPolicy,
  signal: AbortSignal,
): Promise<ResolvedAddress[]> {
  const host = bareHost(u);
  const family = isIP(host);
  if (family !== 0) return [{ address: host, family: family === 6 ? 6 : 4 }];
  // RFC 6761 §6.3: localhost names are loopback, whatever a DNS server would say.
  const lower = host.toLowerCase().replace(/\.$/, '');
  if (lower === 'localhost' || lower.endsWith('.localhost')) {
    if (!policy.allowLoopback) {
      throw new OutboundFetchError('forbidden_address', `${u.hostname} is a loopback name.`);
    }
    return [{ address: '127.0.0.1', family: 4 }];
  }
  let list: readonly ResolvedAddress[];
  try {
    list = await abortable((policy.resolve ?? systemResolve)(host), signal);
  } catch (err) {
    if (signal.aborted) throw err;
    throw new OutboundFetchError('network', `${u.hostname} does not resolve.`);
  }
  if (list.length === 0) throw new OutboundFetchError('network', `${u.hostname} does not resolve.`);
  if (list.some((a) => isForbiddenAddress(a.address, policy.allowLoopback))) {
    throw new OutboundFetchError('forbidden_address', `${u.hostname} resolves to a non-public address.`);
  }
  return [...list];
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** A lookup that answers with the addresses already checked, whatever name it is asked about. */
function pinnedLookup(addresses: readonly ResolvedAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) {
      return (callback as unknown as (e: null, a: readonly ResolvedAddress[]) => void)(null, addresses);
    }
    const first = addresses[0]!;
    return callback(null, first.address, first.family);
  };
}

function exchange(
  u: URL,
  addresses: readonly ResolvedAddress[],
  req: OutboundRequest,
  o: { maxBytes: number; signal: AbortSignal },
): Promise<OutboundResponse> {
  return new Promise((resolve, reject) => {
    const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
    const body = req.body === undefined ? undefined : Buffer.from(req.body);
    const headers: Record<string, string> = { 'user-agent': 'Latchkey', ...req.headers };
    if (body) headers['content-length'] = String(body.length);
    const r = send(
      u,
      {
        method: req.method ?? 'GET',
        headers,
        lookup: pinnedLookup(addresses),
        signal: o.signal,
        agent: false,
      },
      (res) => {
        const tooLarge = () => new OutboundFetchError('too_large', `The answer from ${u.host} is too large.`);
        const declared = Number(res.headers['content-length'] ?? Number.NaN);
        if (declared > o.maxBytes) {
          reject(tooLarge());
          return res.destroy();
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > o.maxBytes) {
            reject(tooLarge());
            res.destroy();
            return;
          }
          chunks.push(c);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: Buffer.concat(chunks),
            url: u.href,
          }),
        );
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('aborted')));
      },
    );
    r.on('error', reject);
    r.end(body);
  });
}

/**
 * Requests `url` under the rules above. Throws `OutboundFetchError` with a stable code; any
 * status the server answers (4xx, 5xx, a 3xx with `redirect: 'manual'`) is returned.
 */
export async function outboundFetch(
  url: string | URL,
  req: OutboundRequest,
  opts: OutboundOptions,
): Promise<OutboundResponse> {
  const maxBytes = opts.maxBytes ?? OUTBOUND_LIMITS.maxBytes;
  const maxRedirects = opts.maxRedirects ?? OUTBOUND_LIMITS.maxRedirects;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), opts.timeoutMs ?? OUTBOUND_LIMITS.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([controller.signal, opts.signal]) : controller.signal;
  let current = checkOutboundUrl(url, opts.allowLoopback);
  const origin = current.origin;
  let request = req;
  try {
    for (let hop = 0; ; hop++) {
      let res: OutboundResponse;
      try {
        const addresses = await resolveChecked(current, opts, signal);
        res = await exchange(current, addresses, request, { maxBytes, signal });
      } catch (err) {
        if (err instanceof OutboundFetchError) throw err;
        if (signal.aborted)
          throw new OutboundFetchError('timeout', `${current.host} did not answer in time.`);
        throw new OutboundFetchError('network', `${current.host} could not be reached.`);
      }
      const location = res.headers.location;
      if (opts.redirect === 'manual' || res.status < 300 || res.status >= 400 || !location) return res;
      if (opts.redirect === 'error')
        throw new OutboundFetchError('redirect_refused', 'Redirects are refused.');
      if (hop >= maxRedirects) throw new OutboundFetchError('redirect_refused', 'Too many redirects.');
      let next: URL;
      try {
        next = new URL(location, current);
      } catch {
        throw new OutboundFetchError('redirect_refused', 'The redirect is not a URL.');
      }
      if (next.origin !== origin) {
        throw new OutboundFetchError('redirect_refused', 'Redirects to another origin are refused.');
      }
      current = checkOutboundUrl(next, opts.allowLoopback);
      // 307 and 308 repeat the request; the others turn it into a GET without a body.
      if (res.status !== 307 && res.status !== 308) request = { headers: request.headers };
    }
  } finally {
    clearTimeout(timer);
  }
}
