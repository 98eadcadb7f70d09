import { sha256 } from './sha256.js';
import { TtlCache } from './cache.js';
import { malformed, type Result, resultOf } from './introspection.js';
import { createJwtVerifier, type JwtClaims, looksLikeJwt, MAX_JWT_LENGTH } from './jwt.js';
import { type Principal, VerifyError } from './principal.js';
import { type RevocationEvent, type RevocationSubscriber, subscribeRevocations } from './revocations.js';

/** Limits, in one place. */
export const POSITIVE_TTL_MS = 30_000;
/** The positive TTL while the revocation stream is not connected (revocations may go unheard). */
export const FALLBACK_POSITIVE_TTL_MS = 5_000;
export const NEGATIVE_TTL_MS = 5_000;
export const DEFAULT_CACHE_ENTRIES = 10_000;
export const INTROSPECTION_TIMEOUT_MS = 5_000;
export const MAX_TOKEN_LENGTH = 512;
/** The longest org reference (id or slug) worth asking about: Latchkey's ids and slugs are far shorter. */
export const MAX_ORG_LENGTH = 100;

/** Where the verifier reports the revocation stream going down and coming back. Never given a token. */
export interface VerifierLogger {
  warn(msg: string): void;
  info?(msg: string): void;
}

export interface VerifierOptions {
  /** Latchkey's issuer URL (its PUBLIC_URL). */
  issuer: string;
  /** This resource server's URL, exactly as configured in Latchkey: the audience tokens must name. */
  resource: string;
  /** This resource's introspection credentials (`[[resources]]` id and secret). */
  credentials: { id: string; secret: string };
  /**
   * Accept Latchkey API tokens (PAT, service, org and agent keys). Latchkey answers them as active
   * only to resources configured with `accept_api_tokens = true`; when this is false (the default)
   * they are refused here too, whatever Latchkey says.
   */
  acceptApiTokens?: boolean;
  /**
   * Follow Latchkey's revocation stream (default true), started by the first `verify`: revoked
   * tokens are dropped from the cache at once. While it is not connected, positive results are
   * cached at most `FALLBACK_POSITIVE_TTL_MS`. When false, positives are cached `POSITIVE_TTL_MS`.
   */
  revocationStream?: boolean;
  /** Default: `console.warn`. */
  logger?: VerifierLogger;
  /** Test seams. */
  fetch?: typeof fetch;
  now?: () => number;
  cacheEntries?: number;
}

export interface VerifierHealth {
  /** `connecting` also before the first `verify`; `off` when disabled or after `close()`. */
  revocations: 'connected' | 'connecting' | 'down' | 'off';
  /** The id of the last revocation event applied. */
  lastEventId: string | null;
}

export interface Verifier {
  /**
   * Verifies a bearer token for this resource and, when given, that it holds every scope in
   * `scopes` and may act in the org `org` (its id or slug): then the principal names that org
   * (`org_id`, `org_slug`) and the person's `org_role` there, and a token that may not act there
   * is refused with `org_forbidden` (403). Throws `VerifyError`. Does NOT read HTTP headers:
   * adapters do.
   */
  verify(token: string, opts?: { scopes?: readonly string[]; org?: string | null }): Promise<Principal>;
  /**
   * `verify` answered at once from what this verifier already holds: the principal when the token
   * was verified before (a cached introspection answer, a JWT whose signature was checked) and
   * still passes every check `verify` makes — expiry, revocations, audience, scopes, org. Null
   * when it cannot say so without waiting: then call `verify`, which also gives the refusal.
   */
  verifyCached(token: string, opts?: { scopes?: readonly string[]; org?: string | null }): Principal | null;
  /** Forgets a token at once (e.g. on a revocation event). */
  forget(tokenHash: string): void;
  health(): VerifierHealth;
  /** Stops the revocation stream and its timers. `verify` still answers, without the stream. */
  close(): void;
}

interface Metadata {
  issuer: string;
  introspection_endpoint: string;
}

interface Inflight {
  promise: Promise<Result>;
  /** Set when a revocation may concern this call: its answer is not cached, nor trusted if active. */
  stale: boolean;
}

export const tokenHash = (token: string) => sha256(token, 'hex');

const invalid = () => new VerifyError('invalid_token', 'The access token is not valid.');
const orgForbidden = () =>
  new VerifyError('org_forbidden', 'This token cannot act in the organisation the request names.');

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The cache key of a verdict: the token's SHA-256, and the org the request named (verdicts for one
 * org never answer for another). Revoking a token drops every key it starts.
 */
const keyOf = (hash: string, org: string | null) => (org === null ? hash : `${hash} ${org}`);
const keyIsOf = (key: string, hash: string) => key === hash || key.startsWith(`${hash} `);

/** Whether an answer names the org the request named (by id, or by slug as Latchkey resolved it). */
const names = (p: Principal, org: string) =>
  p.org_id !== null && (p.org_id === org.toLowerCase() || p.org_slug === org);

/**
 * A token verifier for one resource: introspection (RFC 7662) with a bounded cache — positive
 * results at most 30 s (5 s while the revocation stream is not connected) and never past `exp`,
 * negative results 5 s, transport errors and 5xx never cached — and one shared introspection call
 * for concurrent checks of the same uncached token. Revocation events drop matching results from
 * the cache and from calls in flight. Token kind and audience are checked on every call, cached
 * or not.
 */
export function createVerifier(o: VerifierOptions): Verifier {
  const doFetch = o.fetch ?? fetch;
  const now = o.now ?? Date.now;
  const logger: VerifierLogger = o.logger ?? { warn: (m) => console.warn(m) };
  const cache = new TtlCache<Result>(o.cacheEntries ?? DEFAULT_CACHE_ENTRIES, now);
  const inflight = new Map<string, Inflight>();
  const issuer = o.issuer.replace(/\/+$/, '');
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(o.credentials.id)}:${encodeURIComponent(o.credentials.secret)}`).toString('base64')}`;
  const streamWanted = o.revocationStream !== false;
  // JWT access tokens (resources with token_format = "jwt") are checked here, from the JWKS.
  const jwt = createJwtVerifier({ issuer, resource: o.resource, fetch: doFetch, now });
  let stream: RevocationSubscriber | null = null;
  let closed = false;
  let degraded = false;
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

  const introspect = async (token: string, org: string | null): Promise<Result> => {
    const m = await discover();
    const res = await call(m.introspection_endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic,
        accept: 'application/json',
      },
      body: new URLSearchParams({
        token,
        token_type_hint: 'access_token',
        ...(org !== null ? { org } : {}),
      }).toString(),
    });
    if (res.status >= 500 || res.status === 429)
      throw new VerifyError('unavailable', `Latchkey answered ${res.status}.`);
    if (!res.ok)
      throw new VerifyError('unavailable', `Latchkey refused this resource's credentials (${res.status}).`);
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      throw malformed();
    }
    if (typeof body !== 'object' || body === null) throw malformed();
    return resultOf(body as Record<string, unknown>);
  };

  const connected = () => stream?.state === 'connected';

  const ttlFor = (r: Result): number => {
    if (!r.active) return NEGATIVE_TTL_MS;
    const cap = streamWanted && !connected() ? FALLBACK_POSITIVE_TTL_MS : POSITIVE_TTL_MS;
    const exp = r.principal.expires_at;
    return exp === null ? cap : Math.min(cap, exp * 1000 - now());
  };

  const lookup = async (token: string, org: string | null, retried = false): Promise<Result> => {
    const key = keyOf(tokenHash(token), org);
    const cached = cache.get(key);
    if (cached) return cached;
    let f = inflight.get(key);
    if (!f) {
      const entry: Inflight = { promise: introspect(token, org), stale: false };
      inflight.set(key, entry);
      entry.promise.then(
        (r) => {
          if (inflight.get(key) === entry) inflight.delete(key);
          if (!entry.stale) cache.set(key, r, ttlFor(r));
        },
        () => {
          if (inflight.get(key) === entry) inflight.delete(key);
        },
      );
      f = entry;
    }
    const r = await f.promise;
    // Revoked while Latchkey was being asked: ask again once, so the answer postdates the event.
    if (f.stale && r.active && !retried) return lookup(token, org, true);
    return r;
  };

  /** Marks calls in flight stale: all of them, or those of one token (by hash, whatever the org). */
  const staleInflight = (hash?: string) => {
    for (const [k, f] of inflight) {
      if (hash !== undefined && !keyIsOf(k, hash)) continue;
      f.stale = true;
      inflight.delete(k);
    }
  };

  const revoked = (e: RevocationEvent) => {
    jwt.revoked(e);
    if (e.kind === 'token') {
      cache.deleteWhere((_r, key) => keyIsOf(key, e.value));
      staleInflight(e.value);
      return;
    }
    // Calls in flight have no principal yet: none of them may be cached.
    const field = e.kind === 'user' ? 'sub' : 'org_id';
    cache.deleteWhere((r) => r.active && r.principal[field] === e.value);
    staleInflight();
  };

  const onState = (state: string, detail: string) => {
    if (state === 'connected') {
      if (degraded) {
        degraded = false;
        (logger.info ?? logger.warn).call(
          logger,
          `Latchkey revocation stream connected; positive results are cached up to ${POSITIVE_TTL_MS / 1000} s again.`,
        );
      }
      return;
    }
    // Revocations may now go unheard: nothing positive outlives the short TTL.
    cache.capTtl(FALLBACK_POSITIVE_TTL_MS);
    if (state === 'down' && !degraded) {
      degraded = true;
      logger.warn(
        `Latchkey revocation stream is down (${detail}); positive results are cached at most ${FALLBACK_POSITIVE_TTL_MS / 1000} s until it reconnects.`,
      );
    }
  };

  const startStream = () => {
    if (!streamWanted || stream || closed) return;
    stream = subscribeRevocations({
      url: `${issuer}/api/v1/revocations/stream`,
      authorization: basic,
      fetch: doFetch,
      onRevoked: revoked,
      onState,
    });
  };

  const verifyOpaque = (token: string, org: string | null): Promise<Result> => {
    if (!token || token.length > MAX_TOKEN_LENGTH) throw invalid();
    return lookup(token, org);
  };

  /**
   * The result for a JWT's verified claims, built once per claims object: the JWT verifier keeps one
   * claims object per cached token, and expiry and revocation are checked on every call before this.
   */
  const jwtResults = new WeakMap<object, Result>();

  /** A JWT access token, verified locally: no call to Latchkey. */
  const verifyJwt = async (token: string): Promise<Result> => {
    const out = await jwt.verify(token);
    if (!out.ok) {
      if (out.reason === 'unavailable')
        throw new VerifyError('unavailable', "Latchkey's keys could not be fetched.");
      return { active: false };
    }
    return jwtResult(out.claims);
  };

  /** The result of verified claims, built once per verified token. */
  const jwtResult = (c: JwtClaims): Result => {
    const known = jwtResults.get(c);
    if (known) return known;
    const principal: Principal = Object.freeze({
      sub: c.sub,
      email: null,
      name: null,
      org_id: c.org_id,
      org_slug: null,
      org_role: null,
      client_id: c.client_id,
      scopes: Object.freeze(c.scope.split(' ').filter(Boolean)),
      token_kind: 'oauth' as const,
      expires_at: c.exp,
    });
    const result: Result = Object.freeze({ active: true, principal, aud: Object.freeze([o.resource]) });
    jwtResults.set(c, result);
    return result;
  };

  /** The principal of an active result this resource takes; `invalid_token` for anything else. */
  const accepted = (r: Result): Principal => {
    const p = takes(r);
    if (!p) throw invalid();
    return p;
  };

  /** `accepted` without the throw: the principal, or null. */
  const takes = (r: Result): Principal | null => {
    if (!r.active) return null;
    // Defence in depth: API tokens only where this resource asked for them.
    if (r.principal.token_kind !== 'oauth' && o.acceptApiTokens !== true) return null;
    const exp = r.principal.expires_at;
    if (exp !== null && exp * 1000 <= now()) return null;
    // The confused-deputy defence: a token for another resource is refused even if it is live.
    if (!r.aud.includes(o.resource)) return null;
    return r.principal;
  };

  /**
   * An opaque token in the org the request named: Latchkey answers for the token and org together.
   * Inactive there: a token that is live without the org is refused for the org (403), any other
   * is invalid (401). Active: the answer must name that org (an older Latchkey ignores `org`).
   */
  const opaqueInOrg = async (token: string, org: string): Promise<Principal> => {
    const r = await verifyOpaque(token, org);
    if (!r.active) {
      accepted(await verifyOpaque(token, null));
      throw orgForbidden();
    }
    const p = accepted(r);
    if (!names(p, org)) throw orgForbidden();
    return p;
  };

  /**
   * A JWT in the org the request named: the JWT's own `org_id`, compared here when the request
   * names an id; a slug is resolved by asking Latchkey about the token in that org.
   */
  const jwtInOrg = async (token: string, p: Principal, org: string): Promise<Principal> => {
    if (p.org_id !== null && p.org_id === org.toLowerCase()) return p;
    if (p.org_id === null || UUID_RE.test(org)) throw orgForbidden();
    const r = await lookup(token, org);
    if (!r.active || r.principal.org_id !== p.org_id || r.principal.org_slug !== org) throw orgForbidden();
    return Object.freeze({ ...p, org_slug: r.principal.org_slug, org_role: r.principal.org_role });
  };

  return {
    async verify(token, opts = {}) {
      startStream();
      const named = opts.org?.trim() || null;
      const jwtToken = looksLikeJwt(token);
      let principal: Principal;
      if (named !== null && named.length > MAX_ORG_LENGTH) {
        // Too long to be an org: a bad token is still invalid (401); a good one is refused there.
        accepted(jwtToken ? await verifyJwt(token) : await verifyOpaque(token, null));
        throw orgForbidden();
      } else if (jwtToken) {
        principal = accepted(await verifyJwt(token));
        if (named !== null) principal = await jwtInOrg(token, principal, named);
      } else {
        principal =
          named !== null ? await opaqueInOrg(token, named) : accepted(await verifyOpaque(token, null));
      }
      const missing = (opts.scopes ?? []).filter((s) => !principal.scopes.includes(s));
      if (missing.length > 0) {
        throw new VerifyError(
          'insufficient_scope',
          `This needs the ${missing.join(' ')} scope.`,
          (opts.scopes ?? []).join(' '),
        );
      }
      return principal;
    },
    verifyCached(token, opts = {}) {
      startStream();
      const named = opts.org?.trim() || null;
      if (named !== null && named.length > MAX_ORG_LENGTH) return null;
      let p: Principal | null = null;
      // Only a JWT verified before is found, so no pattern check first (it reads the whole token).
      const c = token.length <= MAX_JWT_LENGTH && token.includes('.') ? jwt.cached(token) : null;
      if (c) {
        p = takes(jwtResult(c));
        if (p && named !== null && (p.org_id === null || p.org_id !== named.toLowerCase())) return null;
      } else if (looksLikeJwt(token)) {
        return null;
      } else if (token && token.length <= MAX_TOKEN_LENGTH) {
        const r = cache.get(keyOf(tokenHash(token), named));
        p = r ? takes(r) : null;
        if (p && named !== null && !names(p, named)) return null;
      }
      if (!p) return null;
      for (const s of opts.scopes ?? []) if (!p.scopes.includes(s)) return null;
      return p;
    },
    forget(hash) {
      cache.deleteWhere((_r, key) => keyIsOf(key, hash));
      staleInflight(hash);
    },
    health() {
      if (!streamWanted || closed) return { revocations: 'off', lastEventId: stream?.lastEventId ?? null };
      return { revocations: stream?.state ?? 'connecting', lastEventId: stream?.lastEventId ?? null };
    },
    close() {
      closed = true;
      stream?.close();
    },
  };
}
