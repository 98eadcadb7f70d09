import { lookup as dnsLookup } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Fetching a Client ID Metadata Document (the client_id is an https URL the server GETs) without
 * becoming an SSRF proxy: https only, every resolved address checked against special-purpose
 * ranges and the connection made to the address that was checked (no DNS-rebinding gap), a total
 * timeout, a size cap, and redirects only within the same origin.
 *
 * It does NOT validate the document's contents: the caller does.
 */
export const METADATA_FETCH_TIMEOUT_MS = 5000;
export const METADATA_MAX_BYTES = 64 * 1024;
export const METADATA_MIN_CACHE_MS = 60_000;
export const METADATA_MAX_CACHE_MS = 24 * 3600_000;
export const METADATA_DEFAULT_CACHE_MS = 5 * 60_000;
const MAX_REDIRECTS = 3;

export type MetadataFetchErrorCode =
  | 'invalid_url'
  | 'forbidden_address'
  | 'timeout'
  | 'too_large'
  | 'bad_status'
  | 'bad_content'
  | 'redirect_refused'
  | 'network';

export class MetadataFetchError extends Error {
  constructor(
    readonly code: MetadataFetchErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MetadataFetchError';
  }
}

export interface FetchedMetadata {
  /** The parsed JSON object. */
  readonly document: unknown;
  /** How long it may be reused; 0: must not be cached. */
  readonly cacheMs: number;
}

export interface MetadataFetchOptions {
  /** Testing only: allow loopback addresses, and http on loopback hosts. */
  allowLoopback?: boolean;
  timeoutMs?: number;
  maxBytes?: number;
}

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['3fff::', 20],
  ['64:ff9b:1::', 48],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}
const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), if any. */
function embeddedV4(ip: string): string | null {
  const lower = ip.toLowerCase();
  const dotted = /^(?:::ffff:|::|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1]!;
  const groups = expandV6(lower);
  if (!groups) return null;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const zero = (from: number, to: number) => groups.slice(from, to).every((g) => g === 0);
  if (zero(0, 5) && groups[5] === 0xffff) return v4(groups[6]!, groups[7]!); // ::ffff:a.b.c.d
  if (zero(0, 6) && (groups[6] !== 0 || groups[7]! > 1)) return v4(groups[6]!, groups[7]!); // ::a.b.c.d
  if (groups[0] === 0x64 && groups[1] === 0xff9b && zero(2, 6)) return v4(groups[6]!, groups[7]!); // NAT64
  if (groups[0] === 0x2002) return v4(groups[1]!, groups[2]!); // 6to4
  return null;
}

function expandV6(raw: string): number[] | null {
  // A trailing dotted quad is the last two groups.
  const ip = raw.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a: string, b: string, c: string, d: string) =>
    [(Number(a) << 8) | Number(b), (Number(c) << 8) | Number(d)].map((n) => n.toString(16)).join(':'),
  );
  const [head, tail, extra] = ip.split('::');
  if (extra !== undefined) return null;
  const parse = (s: string | undefined) => (s ? s.split(':').map((g) => Number.parseInt(g, 16)) : []);
  const h = parse(head);
  const t = parse(tail);
  if ([...h, ...t].some((g) => Number.isNaN(g) || g < 0 || g > 0xffff)) return null;
  if (tail === undefined) return h.length === 8 ? h : null;
  const fill = 8 - h.length - t.length;
  if (fill < 0) return null;
  return [...h, ...new Array<number>(fill).fill(0), ...t];
}

/** Whether a connection to `ip` must be refused: anything but a public unicast address. */
export function isForbiddenAddress(ip: string, allowLoopback: boolean): boolean {
  const family = isIP(ip);
  if (family === 0) return true;
  if (family === 6) {
    const v4 = embeddedV4(ip);
    if (v4) return isForbiddenAddress(v4, allowLoopback);
    if (loopback.check(ip, 'ipv6')) return !allowLoopback;
    return blocked.check(ip, 'ipv6');
  }
  if (loopback.check(ip, 'ipv4')) return !allowLoopback;
  return blocked.check(ip, 'ipv4') || ip === '255.255.255.255';
}

function checkUrl(raw: string, allowLoopback: boolean): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new MetadataFetchError('invalid_url', 'The client_id is not a URL.');
  }
  if (u.username || u.password || raw.includes('#')) {
    throw new MetadataFetchError('invalid_url', 'The client_id URL must not hold credentials or a fragment.');
  }
  if (u.pathname === '/' || u.pathname === '') {
    throw new MetadataFetchError('invalid_url', 'The client_id URL must have a path.');
  }
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const isLoopbackHost =
    host === 'localhost' || (isIP(host) !== 0 && loopback.check(host, isIP(host) === 6 ? 'ipv6' : 'ipv4'));
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && allowLoopback && isLoopbackHost)) {
    throw new MetadataFetchError('invalid_url', 'The client_id URL must use https.');
  }
  if (isIP(host) !== 0 && isForbiddenAddress(host, allowLoopback)) {
    throw new MetadataFetchError('forbidden_address', `${u.host} is not a public address.`);
  }
  return u;
}

/** A DNS lookup that refuses when any address the name resolves to is forbidden. */
function guardedLookup(allowLoopback: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true, verbatim: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as unknown as { address: string; family: number }[];
      if (list.length === 0 || list.some((a) => isForbiddenAddress(a.address, allowLoopback))) {
        return callback(
          new MetadataFetchError('forbidden_address', `${hostname} resolves to a non-public address.`),
          '',
          0,
        );
      }
      if ((options as { all?: boolean }).all)
        return (callback as unknown as (e: null, a: typeof list) => void)(null, list);
      return callback(null, list[0]!.address, list[0]!.family);
    });
  };
}

/** Cache lifetime from Cache-Control / Expires (RFC 9111), clamped; 0 when the response forbids reuse. */
export function cacheLifetimeMs(headers: IncomingMessage['headers']): number {
  const cc = String(headers['cache-control'] ?? '').toLowerCase();
  if (/(^|[\s,])(no-store|no-cache)([\s,=]|$)/.test(cc)) return 0;
  const clamp = (ms: number) =>
    ms <= 0 ? 0 : Math.min(Math.max(ms, METADATA_MIN_CACHE_MS), METADATA_MAX_CACHE_MS);
  const maxAge = /(?:^|[\s,])max-age\s*=\s*"?(\d+)"?/.exec(cc);
  if (maxAge) return clamp(Number(maxAge[1]) * 1000);
  if (headers.expires !== undefined) {
    // RFC 9111 §5.3: an Expires that cannot be parsed means already expired.
    const expires = Date.parse(String(headers.expires));
    if (Number.isNaN(expires)) return 0;
    const date = headers.date ? Date.parse(String(headers.date)) : Date.now();
    return clamp(expires - (Number.isNaN(date) ? Date.now() : date));
  }
  return METADATA_DEFAULT_CACHE_MS;
}

function getOnce(
  u: URL,
  o: { allowLoopback: boolean; maxBytes: number; signal: AbortSignal },
): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(
      u,
      {
        method: 'GET',
        headers: { accept: 'application/json', 'user-agent': 'Latchkey' },
        lookup: guardedLookup(o.allowLoopback),
        signal: o.signal,
        agent: false,
      },
      (res) => {
        const declared = Number(res.headers['content-length'] ?? Number.NaN);
        if (declared > o.maxBytes) {
          res.destroy();
          return reject(new MetadataFetchError('too_large', 'The client metadata document is too large.'));
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > o.maxBytes) {
            res.destroy();
            reject(new MetadataFetchError('too_large', 'The client metadata document is too large.'));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Fetches and parses a client metadata document. Throws `MetadataFetchError` with a stable code. */
export async function fetchClientMetadata(
  url: string,
  opts: MetadataFetchOptions = {},
): Promise<FetchedMetadata> {
  const allowLoopback = opts.allowLoopback ?? false;
  const maxBytes = opts.maxBytes ?? METADATA_MAX_BYTES;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), opts.timeoutMs ?? METADATA_FETCH_TIMEOUT_MS);
  try {
    let current = checkUrl(url, allowLoopback);
    const origin = current.origin;
    for (let hop = 0; ; hop++) {
      let res;
      try {
        res = await getOnce(current, { allowLoopback, maxBytes, signal: controller.signal });
      } catch (err) {
        if (err instanceof MetadataFetchError) throw err;
        const e = err as Error & { cause?: unknown };
        if (e.cause instanceof MetadataFetchError) throw e.cause;
        if (controller.signal.aborted)
          throw new MetadataFetchError('timeout', `${current.host} did not answer in time.`);
        throw new MetadataFetchError('network', `${current.host} could not be reached.`);
      }
      if (res.status >= 300 && res.status < 400 && res.headers.location) {
        if (hop >= MAX_REDIRECTS) throw new MetadataFetchError('redirect_refused', 'Too many redirects.');
        let next: URL;
        try {
          next = new URL(res.headers.location, current);
        } catch {
          throw new MetadataFetchError('redirect_refused', 'The redirect is not a URL.');
        }
        if (next.origin !== origin)
          throw new MetadataFetchError('redirect_refused', 'Redirects to another origin are refused.');
        current = checkUrl(next.href, allowLoopback);
        continue;
      }
      if (res.status !== 200)
        throw new MetadataFetchError('bad_status', `${current.host} answered ${res.status}.`);
      const type = String(res.headers['content-type'] ?? '')
        .split(';')[0]!
        .trim()
        .toLowerCase();
      if (type !== 'application/json' && !type.endsWith('+json')) {
        throw new MetadataFetchError('bad_content', 'The client metadata document is not JSON.');
      }
      let document: unknown;
      try {
        document = JSON.parse(res.body.toString('utf8'));
      } catch {
        throw new MetadataFetchError('bad_content', 'The client metadata document is not valid JSON.');
      }
      if (typeof document !== 'object' || document === null || Array.isArray(document)) {
        throw new MetadataFetchError('bad_content', 'The client metadata document is not a JSON object.');
      }
      return { document, cacheMs: cacheLifetimeMs(res.headers) };
    }
  } finally {
    clearTimeout(timer);
  }
}
