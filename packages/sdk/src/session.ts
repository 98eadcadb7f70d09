import { createHash, randomInt } from 'node:crypto';
import { NEGATIVE_TTL_MS, POSITIVE_TTL_MS } from './verifier.js';
import { VerifyError } from './principal.js';

export const SESSION_CACHE_ENTRIES = 10_000;
/** At the cap, this share of entries is dropped at random in one go (cheaper than strict LRU). */
export const SESSION_EVICT_FRACTION = 0.1;
export const SESSION_SWEEP_MS = 60_000;

export interface TenantMembership {
  readonly member: boolean;
  readonly role: string | null;
  readonly user_id: string;
}

export interface SessionCheckerOptions {
  /** Latchkey's issuer URL. */
  issuer: string;
  fetch?: typeof fetch;
  now?: () => number;
  maxEntries?: number;
}

export interface SessionChecker {
  /**
   * Whether the browser that sent `cookieHeader` is signed in to Latchkey and a member of the org
   * `orgSlug`. Null when it is not signed in. Throws `VerifyError('unavailable')` when Latchkey
   * cannot be asked (never cached: fail closed).
   */
  verifySession(cookieHeader: string | null | undefined, orgSlug: string): Promise<TenantMembership | null>;
  /** Entries held now (never more than the cap). */
  readonly size: number;
  /** Stops the periodic sweep. */
  close(): void;
}

/**
 * The session cookie alone: nothing else the browser sent is forwarded to Latchkey. On an https
 * Latchkey it is `__Host-lk_session` (and a plain `lk_session` there is ignored by the server).
 */
function sessionCookie(header: string | null | undefined): string | null {
  if (!header) return null;
  let plain: string | null = null;
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (!v.length) continue;
    if (k === '__Host-lk_session') return `__Host-lk_session=${v.join('=')}`;
    if (k === 'lk_session' && plain === null) plain = `lk_session=${v.join('=')}`;
  }
  return plain;
}

/**
 * Tenant membership checks for apps sharing Latchkey's sign-in cookie, with a bounded cache:
 * keys are SHA-256 of slug + cookie (raw cookies are never held, and one org's answer can never
 * satisfy another's); positive answers live 30 s, negative 5 s; at the cap a random tenth is
 * evicted; a periodic sweep drops expired entries.
 */
export function createSessionChecker(o: SessionCheckerOptions): SessionChecker {
  const doFetch = o.fetch ?? fetch;
  const now = o.now ?? Date.now;
  const max = o.maxEntries ?? SESSION_CACHE_ENTRIES;
  const issuer = o.issuer.replace(/\/+$/, '');
  const cache = new Map<string, { value: TenantMembership | null; until: number }>();

  const sweep = () => {
    const t = now();
    for (const [k, e] of cache) if (e.until <= t) cache.delete(k);
  };
  const timer = setInterval(sweep, SESSION_SWEEP_MS);
  timer.unref();

  const evict = () => {
    const keys = [...cache.keys()];
    const n = Math.max(1, Math.floor(keys.length * SESSION_EVICT_FRACTION));
    for (let i = 0; i < n && keys.length > 0; i++) {
      const j = randomInt(keys.length);
      cache.delete(keys[j]!);
      keys[j] = keys[keys.length - 1]!;
      keys.pop();
    }
  };

  return {
    async verifySession(cookieHeader, orgSlug) {
      const cookie = sessionCookie(cookieHeader);
      if (!cookie || !orgSlug) return null;
      const key = createHash('sha256').update(`${orgSlug}\n${cookie}`).digest('hex');
      const hit = cache.get(key);
      if (hit && hit.until > now()) return hit.value;
      let res: Response;
      try {
        res = await doFetch(`${issuer}/api/v1/session/tenant-member?slug=${encodeURIComponent(orgSlug)}`, {
          headers: { cookie, accept: 'application/json' },
          signal: AbortSignal.timeout(5000),
        });
      } catch {
        throw new VerifyError('unavailable', 'Latchkey could not be reached.');
      }
      let value: TenantMembership | null;
      if (res.status === 401) value = null;
      else if (res.ok) value = (await res.json()) as TenantMembership;
      else throw new VerifyError('unavailable', `Latchkey answered ${res.status}.`);
      if (max > 0) {
        if (cache.size >= max) evict();
        cache.set(key, { value, until: now() + (value?.member ? POSITIVE_TTL_MS : NEGATIVE_TTL_MS) });
      }
      return value;
    },
    get size() {
      return cache.size;
    },
    close() {
      clearInterval(timer);
    },
  };
}
