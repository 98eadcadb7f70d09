import { createPublicKey, type JsonWebKey, type KeyObject, verify as verifySignature } from 'node:crypto';
import { TtlCache } from './cache.js';
import type { RevocationEvent } from './revocations.js';

/**
 * Local verification of Latchkey's JWT access tokens (RFC 9068, `typ: at+jwt`) for resources
 * configured with `token_format = "jwt"`: no network call per request. The issuer's JWK Set is
 * fetched once and cached (`JWKS_TTL_MS`); a token naming an unknown `kid` refetches it, at most
 * once per `JWKS_MIN_REFETCH_MS`, so a key published or rotated on the server is picked up.
 *
 * Checks: compact JWS with `alg` ES256 or RS256 (never `none`, never HMAC), `typ` at+jwt, a key of
 * the issuer's set, signature, `iss`, `aud` = this resource, `exp` (with `CLOCK_SKEW_S`), and that
 * neither the token's `jti` nor (for tokens issued before the event) its person or org has been
 * revoked on the revocation stream. It does NOT ask Latchkey: a revocation reaches it only through
 * the stream, so a verifier that does not follow the stream keeps accepting a revoked JWT until
 * it expires (at most an hour).
 */

export const JWKS_TTL_MS = 10 * 60_000;
export const JWKS_MIN_REFETCH_MS = 1_000;
export const CLOCK_SKEW_S = 30;
/** How long a revocation is remembered: longer than any JWT access token lives (1 h). */
export const REVOKED_TTL_MS = 2 * 60 * 60_000;
/**
 * A verified signature is remembered this long, never past `exp`, with the token itself: a hash
 * per request would cost as much as the rest of the check (the SDK-protected route bench). It is
 * found by the token's signature segment, and taken only when the whole token is the one verified:
 * a map keyed by the whole token hashes all of it (some 800 characters) on every lookup, which
 * cost more than the rest of a cached check. The token is a short-lived credential this process
 * was just handed; it stays in memory, as it does in Envoy's JWT cache, and nowhere else. Opaque
 * tokens are cached by hash (revocation events name their hash).
 */
export const VERIFIED_TTL_MS = 60_000;
const JWT_RE = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;

/** The longest JWT this verifier reads. */
export const MAX_JWT_LENGTH = 4096;

export function looksLikeJwt(token: string): boolean {
  return token.length <= MAX_JWT_LENGTH && JWT_RE.test(token);
}

/** The signature segment of a compact JWS, the key a verified token is found by. */
const signatureOf = (token: string) => token.slice(token.lastIndexOf('.') + 1);

export interface JwtClaims {
  sub: string;
  client_id: string;
  scope: string;
  jti: string;
  exp: number;
  iat: number;
  org_id: string | null;
}

export type JwtOutcome = { ok: true; claims: JwtClaims } | { ok: false; reason: 'invalid' | 'unavailable' };

export interface JwtVerifier {
  verify(token: string): Promise<JwtOutcome>;
  /**
   * The claims of a token this verifier has verified before and that still passes the per-call
   * checks (expiry, revocations), at once; null when `verify` must decide. Any string may be
   * asked: only the exact token verified is found.
   */
  cached(token: string): JwtClaims | null;
  /** Applies a revocation-stream event (a token's hash is a JWT's `jti`). */
  revoked(e: RevocationEvent): void;
}

const b64json = (part: string): Record<string, unknown> | null => {
  try {
    const v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
};

export function createJwtVerifier(o: {
  issuer: string;
  resource: string;
  fetch: typeof fetch;
  now: () => number;
}): JwtVerifier {
  let keys = new Map<string, { alg: string; key: KeyObject }>();
  let fetchedAt = 0;
  let loading: Promise<boolean> | null = null;
  const revokedTokens = new TtlCache<true>(100_000, o.now);
  /** Verified tokens by signature segment (`VERIFIED_TTL_MS`), each with the whole token. */
  const verified = new TtlCache<{ token: string; claims: JwtClaims }>(10_000, o.now);
  const verifiedClaims = (token: string): JwtClaims | null => {
    const e = verified.get(signatureOf(token));
    return e !== undefined && e.token === token ? e.claims : null;
  };
  /** Person or org id → when it was revoked (ms): tokens issued before then are refused. */
  const revokedSubjects = new TtlCache<number>(100_000, o.now);

  const load = (): Promise<boolean> => {
    loading ??= (async () => {
      try {
        const res = await o.fetch(`${o.issuer}/.well-known/jwks.json`, {
          headers: { accept: 'application/json' },
          signal: AbortSignal.timeout(5_000),
        });
        if (!res.ok) return false;
        const body = (await res.json()) as { keys?: unknown };
        if (!Array.isArray(body.keys)) return false;
        const next = new Map<string, { alg: string; key: KeyObject }>();
        for (const k of body.keys as (JsonWebKey & { kid?: string; alg?: string; use?: string })[]) {
          if (typeof k.kid !== 'string' || (k.alg !== 'ES256' && k.alg !== 'RS256')) continue;
          if (k.use !== undefined && k.use !== 'sig') continue;
          try {
            next.set(k.kid, { alg: k.alg, key: createPublicKey({ key: k, format: 'jwk' }) });
          } catch {
            // a key this runtime cannot read is skipped
          }
        }
        keys = next;
        fetchedAt = o.now();
        return true;
      } catch {
        return false;
      } finally {
        loading = null;
      }
    })();
    return loading;
  };

  const keyFor = async (kid: string): Promise<{ alg: string; key: KeyObject } | 'unavailable' | null> => {
    const fresh = o.now() - fetchedAt < JWKS_TTL_MS;
    if (fresh && keys.has(kid)) return keys.get(kid)!;
    if (!fresh || o.now() - fetchedAt >= JWKS_MIN_REFETCH_MS) {
      const ok = await load();
      if (!ok && fetchedAt === 0) return 'unavailable';
    }
    return keys.get(kid) ?? null;
  };

  /** Checked on every call, cached or not: expiry and the revocation stream. */
  const stillGood = (claims: JwtClaims): boolean => {
    if (claims.exp + CLOCK_SKEW_S <= o.now() / 1000) return false;
    if (revokedTokens.get(claims.jti)) return false;
    const bySub = revokedSubjects.get(claims.sub);
    if (bySub !== undefined && claims.iat * 1000 <= bySub) return false;
    const byOrg = claims.org_id ? revokedSubjects.get(claims.org_id) : undefined;
    return byOrg === undefined || claims.iat * 1000 > byOrg;
  };

  return {
    async verify(token) {
      let claims = verifiedClaims(token);
      if (!claims) {
        const out = await checkSignature(token);
        if (!out.ok) return out;
        claims = out.claims;
        const ttl = Math.min(VERIFIED_TTL_MS, claims.exp * 1000 - o.now());
        verified.set(signatureOf(token), { token, claims }, ttl);
      }
      return stillGood(claims) ? { ok: true, claims } : { ok: false, reason: 'invalid' };
    },
    cached(token) {
      const claims = verifiedClaims(token);
      return claims && stillGood(claims) ? claims : null;
    },
    revoked(e) {
      if (e.kind === 'token') revokedTokens.set(e.value, true, REVOKED_TTL_MS);
      else revokedSubjects.set(e.value, o.now(), REVOKED_TTL_MS);
      // A revoked token is not kept in memory either.
      const field = e.kind === 'token' ? 'jti' : e.kind === 'user' ? 'sub' : 'org_id';
      verified.deleteWhere((v) => v.claims[field] === e.value);
    },
  };

  async function checkSignature(token: string): Promise<JwtOutcome> {
    {
      const m = JWT_RE.exec(token);
      if (!m) return { ok: false, reason: 'invalid' };
      const header = b64json(m[1]!);
      const payload = b64json(m[2]!);
      if (!header || !payload) return { ok: false, reason: 'invalid' };
      if (header.typ !== 'at+jwt' || typeof header.kid !== 'string') return { ok: false, reason: 'invalid' };
      if (header.alg !== 'ES256' && header.alg !== 'RS256') return { ok: false, reason: 'invalid' };
      const k = await keyFor(header.kid);
      if (k === 'unavailable') return { ok: false, reason: 'unavailable' };
      if (!k || k.alg !== header.alg) return { ok: false, reason: 'invalid' };
      const signed = Buffer.from(`${m[1]}.${m[2]}`, 'ascii');
      const signature = Buffer.from(m[3]!, 'base64url');
      const good =
        header.alg === 'ES256'
          ? verifySignature('sha256', signed, { key: k.key, dsaEncoding: 'ieee-p1363' }, signature)
          : verifySignature('sha256', signed, k.key, signature);
      if (!good) return { ok: false, reason: 'invalid' };
      const nowS = o.now() / 1000;
      const p = payload;
      if (p.iss !== o.issuer) return { ok: false, reason: 'invalid' };
      const aud = Array.isArray(p.aud) ? p.aud : [p.aud];
      if (!aud.includes(o.resource)) return { ok: false, reason: 'invalid' };
      if (typeof p.exp !== 'number' || p.exp + CLOCK_SKEW_S <= nowS) return { ok: false, reason: 'invalid' };
      if (typeof p.iat !== 'number' || p.iat - CLOCK_SKEW_S > nowS) return { ok: false, reason: 'invalid' };
      if (typeof p.sub !== 'string' || typeof p.client_id !== 'string' || typeof p.jti !== 'string')
        return { ok: false, reason: 'invalid' };
      if (p.scope !== undefined && typeof p.scope !== 'string') return { ok: false, reason: 'invalid' };
      const orgId = typeof p.org_id === 'string' ? p.org_id : null;
      return {
        ok: true,
        claims: {
          sub: p.sub,
          client_id: p.client_id,
          scope: (p.scope as string | undefined) ?? '',
          jti: p.jti,
          exp: p.exp,
          iat: p.iat,
          org_id: orgId,
        },
      };
    }
  }
}
