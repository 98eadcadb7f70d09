import type { IncomingMessage } from 'node:http';
import {
  OutboundFetchError,
  type OutboundFetchErrorCode,
  outboundFetch,
  type ResolveHost,
} from '../lib/outbound-fetch.js';

/**
 * Fetching a Client ID Metadata Document (the client_id is an https URL the server GETs). The
 * request itself goes through the guarded outbound fetch (`lib/outbound-fetch.ts`: https only,
 * every resolved address checked and connected to, timeout, size cap, same-origin redirects);
 * what is specific to metadata documents lives here: the shape of a client_id URL, the JSON
 * checks and the cache lifetime.
 *
 * It does NOT validate the document's contents: the caller does.
 */
export const METADATA_FETCH_TIMEOUT_MS = 5000;
export const METADATA_MAX_BYTES = 64 * 1024;
export const METADATA_MIN_CACHE_MS = 60_000;
export const METADATA_MAX_CACHE_MS = 24 * 3600_000;
export const METADATA_DEFAULT_CACHE_MS = 5 * 60_000;
const MAX_REDIRECTS = 3;

export type MetadataFetchErrorCode = OutboundFetchErrorCode | 'bad_status' | 'bad_content';

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
  /** How host names are resolved (the `DNS_SERVERS` resolver); the system's when absent. */
  resolve?: ResolveHost;
  timeoutMs?: number;
  maxBytes?: number;
}

/** What a client_id URL must look like beyond being fetchable: no credentials, no fragment, a path. */
function checkClientIdUrl(raw: string): void {
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

/** Fetches and parses a client metadata document. Throws `MetadataFetchError` with a stable code. */
export async function fetchClientMetadata(
  url: string,
  opts: MetadataFetchOptions = {},
): Promise<FetchedMetadata> {
  checkClientIdUrl(url);
  let res;
  try {
    res = await outboundFetch(
      url,
      { headers: { accept: 'application/json' } },
      {
        allowLoopback: opts.allowLoopback ?? false,
        ...(opts.resolve ? { resolve: opts.resolve } : {}),
        timeoutMs: opts.timeoutMs ?? METADATA_FETCH_TIMEOUT_MS,
        maxBytes: opts.maxBytes ?? METADATA_MAX_BYTES,
        maxRedirects: MAX_REDIRECTS,
      },
    );
  } catch (err) {
    if (err instanceof OutboundFetchError) throw new MetadataFetchError(err.code, err.message);
    throw err;
  }
  const host = new URL(res.url).host;
  if (res.status !== 200) throw new MetadataFetchError('bad_status', `${host} answered ${res.status}.`);
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
