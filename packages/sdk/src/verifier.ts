import { createHash } from 'node:crypto';
import { TtlCache } from './cache.js';

/** Limits, in one place. */
export const POSITIVE_TTL_MS = 30_000;
export const NEGATIVE_TTL_MS = 5_000;
export const DEFAULT_CACHE_ENTRIES = 10_000;
export const INTROSPECTION_TIMEOUT_MS = 5_000;

/** Who a verified token speaks for. */
export interface Principal {
  /** The person (user id), or the client for client-credentials tokens. */
  readonly sub: string;
  readonly org_id: string;
  readonly client_id: string;
  readonly scopes: readonly string[];
  readonly token_kind: 'oauth';
  /** Seconds since the epoch. */
  readonly expires_at: number;
}

export type VerifyErrorCode = 'invalid_token' | 'insufficient_scope' | 'unavailable';

/**
 * Why a token was not accepted. `status` and `wwwAuthenticate` are what an HTTP adapter answers
 * (RFC 6750 §3); `unavailable` means Latchkey could not be asked — fail closed, never "valid".
 */
export class VerifyError extends Error {
  readonly status: number;
  constructor(
    readonly code: VerifyErrorCode,
    message: string,
    /** For `insufficient_scope`: the scopes the call needs. */
    readonly scope?: string,
  ) {
    super(message);
    this.name = 'VerifyError';
    this.status = code === 'invalid_token' ? 401 : code === 'insufficient_scope' ? 403 : 503;
  }
}

export interface VerifierOptions {
  /** Latchkey's issuer URL (its PUBLIC_URL). */
  issuer: string;
  /** This resource server's URL, exactly as configured in Latchkey: the audience tokens must name. */
  resource: string;
  /** This resource's introspection credentials (`[[resources]]` id and secret). */
  credentials: { id: string; secret: string };
  /** Test seams. */
  fetch?: typeof fetch;
  now?: () => number;
  cacheEntries?: number;
}

export interface Verifier {
  /**
   * Verifies a bearer token for this resource and, when given, that it holds every scope in
   * `scopes`. Throws `VerifyError`. Does NOT read HTTP headers: adapters do.
   */
  verify(token: string, opts?: { scopes?: readonly string[] }): Promise<Principal>;
  /** Forgets a token at once (e.g. on a revocation event). */
  forget(tokenHash: string): void;
}

interface Metadata {
  issuer: string;
  introspection_endpoint: string;
}

type Result = { active: true; principal: Principal; aud: string | string[] } | { active: false };

export const tokenHash = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

/**
 * A token verifier for one resource: introspection (RFC 7662) with a bounded cache — positive
 * results at most 30 s and never past `exp`, negative results 5 s, transport errors and 5xx never
 * cached — and one shared introspection call for concurrent checks of the same uncached token.
 * The audience is checked on every call, cached or not.
 */
export function createVerifier(o: VerifierOptions): Verifier {
  const doFetch = o.fetch ?? fetch;
  const now = o.now ?? Date.now;
  const cache = new TtlCache<Result>(o.cacheEntries ?? DEFAULT_CACHE_ENTRIES, now);
  const inflight = new Map<string, Promise<Result>>();
  const issuer = o.issuer.replace(/\/+$/, '');
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(o.credentials.id)}:${encodeURIComponent(o.credentials.secret)}`).toString('base64')}`;
  let metadata: Promise<Metadata> | null = null;

  const call = async (url: string, init: RequestInit): Promise<Response> => {
    try {
      return await doFetch(url, { ...init, signal: AbortSignal.timeout(INTROSPECTION_TIMEOUT_MS) });
    } catch {
      throw new VerifyError('unavailable', 'Latchkey could not be reached.');
    }
  };

  const discover = (): Promise<Metadata> => {
    metadata ??= (async () => {
      const res = await call(`${issuer}/.well-known/oauth-authorization-server`, {
        headers: { accept: 'application/json' },
      });
      if (!res.ok) throw new VerifyError('unavailable', `Latchkey's metadata answered ${res.status}.`);
      const m = (await res.json()) as Metadata;
      if (m.issuer !== issuer || typeof m.introspection_endpoint !== 'string') {
        throw new VerifyError('unavailable', "Latchkey's metadata names another issuer.");
      }
      return m;
    })().catch((err: unknown) => {
      metadata = null; // try again next time
      throw err;
    });
    return metadata;
  };

  const introspect = async (token: string): Promise<Result> => {
    const m = await discover();
    const res = await call(m.introspection_endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic,
        accept: 'application/json',
      },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
    });
    if (res.status >= 500 || res.status === 429)
      throw new VerifyError('unavailable', `Latchkey answered ${res.status}.`);
    if (!res.ok)
      throw new VerifyError('unavailable', `Latchkey refused this resource's credentials (${res.status}).`);
    const b = (await res.json()) as Record<string, unknown>;
    if (b.active !== true) return { active: false };
    return {
      active: true,
      aud: b.aud as string | string[],
      principal: {
        sub: String(b.sub),
        org_id: String(b.org_id),
        client_id: String(b.client_id),
        scopes: typeof b.scope === 'string' ? b.scope.split(' ').filter(Boolean) : [],
        token_kind: 'oauth',
        expires_at: Number(b.exp),
      },
    };
  };

  const lookup = async (key: string, token: string): Promise<Result> => {
    const cached = cache.get(key);
    if (cached) return cached;
    let p = inflight.get(key);
    if (!p) {
      p = introspect(token).finally(() => inflight.delete(key));
      inflight.set(key, p);
      const r = await p;
      const ttl = r.active
        ? Math.min(POSITIVE_TTL_MS, r.principal.expires_at * 1000 - now())
        : NEGATIVE_TTL_MS;
      cache.set(key, r, ttl);
      return r;
    }
    return p;
  };

  return {
    async verify(token, opts = {}) {
      if (!token || token.length > 512)
        throw new VerifyError('invalid_token', 'The access token is not valid.');
      const r = await lookup(tokenHash(token), token);
      if (!r.active) throw new VerifyError('invalid_token', 'The access token is not valid.');
      if (r.principal.expires_at * 1000 <= now())
        throw new VerifyError('invalid_token', 'The access token is not valid.');
      // The confused-deputy defence: a token for another resource is refused even if it is live.
      const aud = Array.isArray(r.aud) ? r.aud : [r.aud];
      if (!aud.includes(o.resource)) throw new VerifyError('invalid_token', 'The access token is not valid.');
      const missing = (opts.scopes ?? []).filter((s) => !r.principal.scopes.includes(s));
      if (missing.length > 0) {
        throw new VerifyError(
          'insufficient_scope',
          `This needs the ${missing.join(' ')} scope.`,
          (opts.scopes ?? []).join(' '),
        );
      }
      return r.principal;
    },
    forget(hash) {
      cache.delete(hash);
    },
  };
}
