import { periodOfName, type QuotaPeriod } from './limits.js';
import type { Principal } from './principal.js';

/**
 * Budgets per org or per token subject, in a fixed window — the UTC day or the calendar month in
 * UTC — over a counter store: in memory (one process) or Redis (shared by every replica of the
 * resource server). Each budget is one of the limits Latchkey attaches to the credential
 * (`mcp_calls_per_day`, `guard_runs_per_month`…), with the period Latchkey gives it.
 */

// Limits, in one place.
export const QUOTA_WINDOW_MS = 86_400_000;
export const DEFAULT_QUOTA_KEYS = 100_000;
export const REDIS_QUOTA_PREFIX = 'latchkey:quota:';

export interface QuotaStore {
  /** Adds one to `key`'s counter and returns the new count; a new counter lives `ttlMs`. */
  increment(key: string, ttlMs: number): Promise<number>;
}

/** `remaining` is null when the principal has no budget (unlimited). */
export type QuotaResult =
  { allowed: true; remaining: number | null } | { allowed: false; retryAfterSeconds: number };

export interface QuotaOptions {
  store: QuotaStore;
  /**
   * The budget: the name of one of the principal's `limits` (default `mcp_calls_per_day`), or a
   * function of the principal. A principal without it (or null) is unlimited.
   */
  limit?: string | ((principal: Principal) => number | null);
  /**
   * The window the budget renews in. Default: the period Latchkey gave the named limit, else the
   * one its name says (`…_per_month`), else the UTC day.
   */
  period?: QuotaPeriod;
  /**
   * Whose budget a call spends. `org`: the principal's org, or its subject when it has none (the
   * default); `token`: the subject (`sub`); or a function of the principal.
   */
  key?: 'org' | 'token' | ((principal: Principal) => string);
  now?: () => number;
}

export interface Quota {
  /** Spends one of the principal's budget for this window (UTC). Throws when the store fails. */
  consume(principal: Principal): Promise<QuotaResult>;
}

/** A spent budget, as `check()` reports it: 429 with `Retry-After`. */
export class QuotaExceededError extends Error {
  readonly code = 'quota_exceeded';
  constructor(
    readonly retryAfterSeconds: number,
    readonly period?: QuotaPeriod,
  ) {
    super(
      period === 'month'
        ? "This month's budget is spent."
        : period === 'day'
          ? "Today's budget is spent."
          : 'The budget for this period is spent.',
    );
    this.name = 'QuotaExceededError';
  }
}

/** The window holding `t` (ms): its start, its end and its label (`2030-03-03`, `2030-03`). */
export function quotaWindow(t: number, period: QuotaPeriod): { start: number; end: number; label: string } {
  if (period === 'day') {
    const start = Math.floor(t / QUOTA_WINDOW_MS) * QUOTA_WINDOW_MS;
    return { start, end: start + QUOTA_WINDOW_MS, label: new Date(start).toISOString().slice(0, 10) };
  }
  const d = new Date(t);
  const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const end = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  return { start, end, label: new Date(start).toISOString().slice(0, 7) };
}

const bySubject = (p: Principal) => `sub:${p.sub}`;
const byOrg = (p: Principal) => (p.org_id !== null ? `org:${p.org_id}` : bySubject(p));

/**
 * A fixed-window quota: the window is the UTC day (renewing at 00:00 UTC) or the calendar month in
 * UTC (renewing at 00:00 UTC on the 1st), and a refused call is told to retry then. A budget that
 * is not a finite number is treated as 0 (closed). Calls over the budget still count; that never
 * matters, since the counter only has to exceed it. A named budget's counters are keyed by its
 * name, so one store can hold several quotas.
 */
export function createQuota(o: QuotaOptions): Quota {
  if (!o.store || typeof o.store.increment !== 'function')
    throw new TypeError('createQuota: store must be a QuotaStore.');
  const k = o.key ?? 'org';
  const keyOf =
    typeof k === 'function'
      ? k
      : k === 'org'
        ? byOrg
        : k === 'token'
          ? bySubject
          : (() => {
              throw new TypeError("createQuota: key must be 'org', 'token' or a function.");
            })();
  if (o.period !== undefined && o.period !== 'day' && o.period !== 'month')
    throw new TypeError("createQuota: period must be 'day' or 'month'.");
  const named = typeof o.limit === 'function' ? null : (o.limit ?? 'mcp_calls_per_day');
  if (named !== null && (typeof named !== 'string' || named === ''))
    throw new TypeError('createQuota: limit must be the name of a limit or a function.');
  const limit = typeof o.limit === 'function' ? o.limit : (p: Principal) => p.limits?.[named!] ?? null;
  const periodOf = (p: Principal): QuotaPeriod =>
    o.period ?? (named ? (p.limit_periods?.[named] ?? periodOfName(named) ?? 'day') : 'day');
  const now = o.now ?? Date.now;

  return {
    async consume(principal) {
      const l = limit(principal);
      if (l === null || l === undefined) return { allowed: true, remaining: null };
      const budget = Number.isFinite(l) && l > 0 ? Math.floor(l) : 0;
      const t = now();
      const w = quotaWindow(t, periodOf(principal));
      const retryAfterSeconds = Math.max(1, Math.ceil((w.end - t) / 1000));
      if (budget === 0) return { allowed: false, retryAfterSeconds };
      const key = named ? `${keyOf(principal)}:${named}:${w.label}` : `${keyOf(principal)}:${w.label}`;
      const n = await o.store.increment(key, w.end - t);
      if (n > budget) return { allowed: false, retryAfterSeconds };
      return { allowed: true, remaining: budget - n };
    },
  };
}

/**
 * Counters in this process, at most `maxKeys` of them: expired ones go first; past that the oldest
 * goes, which forgets (resets) that key's count — size `maxKeys` above the keys alive in a day.
 */
export function memoryQuotaStore(o: { maxKeys?: number; now?: () => number } = {}): QuotaStore {
  const max = o.maxKeys ?? DEFAULT_QUOTA_KEYS;
  if (!Number.isSafeInteger(max) || max < 1)
    throw new TypeError('memoryQuotaStore: maxKeys must be a positive integer.');
  const now = o.now ?? Date.now;
  const counters = new Map<string, { n: number; until: number }>();
  return {
    async increment(key, ttlMs) {
      const t = now();
      const c = counters.get(key);
      if (c && c.until > t) return ++c.n;
      counters.delete(key);
      // Insertion order is roughly expiry order: sweep expired counters from the front.
      for (const [k, v] of counters) {
        if (v.until > t && counters.size < max) break;
        counters.delete(k);
      }
      counters.set(key, { n: 1, until: t + ttlMs });
      return 1;
    },
  };
}

/** What the Redis store needs of a client: ioredis's `eval`. */
export interface RedisEvalClient {
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/** INCR and, for a new counter (or one that lost its expiry), PEXPIRE — atomically. */
const INCREMENT_SCRIPT = `local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

/** Counters in Redis, shared by every process that uses the same `prefix`. */
export function redisQuotaStore(redis: RedisEvalClient, o: { prefix?: string } = {}): QuotaStore {
  if (!redis || typeof redis.eval !== 'function')
    throw new TypeError('redisQuotaStore: pass a Redis client with eval (e.g. ioredis).');
  const prefix = o.prefix ?? REDIS_QUOTA_PREFIX;
  return {
    async increment(key, ttlMs) {
      const n = Number(
        await redis.eval(INCREMENT_SCRIPT, 1, `${prefix}${key}`, Math.max(1, Math.ceil(ttlMs))),
      );
      if (!Number.isSafeInteger(n) || n < 1) throw new Error('redisQuotaStore: Redis answered a non-count.');
      return n;
    },
  };
}
