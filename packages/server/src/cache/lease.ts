import { type RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import { wrapLimiter } from './limiter.js';
import type { LimitResult, RateLimiter } from './types.js';

/** Budgets at least this large are counted in leases; smaller ones count every event in the store. */
export const LEASE_MIN_POINTS = 200;
/** A lease is at most a hundredth of the budget, and never more than this many events. */
export const LEASE_MAX = 64;
/** Keys a node holds leases for; past this, the oldest are dropped (their events are lost, never given again). */
const MAX_LEASES = 10_000;

interface Lease {
  /** Events this node may still allow before asking the store again. */
  left: number;
  /** When the store's window for the key ends (ms since the epoch): what is left is void then. */
  until: number;
  /** The size of the last lease taken: the next one is twice as large, up to the ceiling. */
  size: number;
  /** The store refused: the budget is spent until `until`. */
  spent: boolean;
  /** The request to the store under way, if any: false when the store could not answer. */
  taking: Promise<boolean> | null;
}

/**
 * A budget shared through a store (Redis) that a node takes in leases instead of one event at a
 * time: it counts a lease of n events into the store's window at once, then allows that many on
 * its own. The store's count includes every lease handed out, so together the nodes never allow
 * more than the budget in a window: a lease a node does not use is lost, never given twice.
 *
 * A key's first lease in a window is one event, and each next one twice the last, up to a hundredth
 * of the budget (at most `LEASE_MAX`): a caller that sends one request costs the budget one event,
 * and a busy one asks the store about once per `LEASE_MAX` requests. A lease the store can only
 * partly cover is granted what is left of the budget. Once the store refuses, the node refuses
 * the key on its own until the window ends, so a flood from one key does not reach the store.
 * Concurrent callers of one key wait for the one lease under way instead of taking one each.
 *
 * `reset` forgets this node's lease and the store's count; another node may still allow what it
 * holds of an earlier lease (at most a hundredth of the budget) in that window.
 *
 * When the store cannot answer, each event is counted by `fallback` (this node's own, smaller
 * budget), as for a limiter without leases.
 */
export function leasedLimiter(
  store: RateLimiterAbstract,
  points: number,
  fallback: RateLimiter,
  now: () => number = Date.now,
): RateLimiter {
  const ceiling = Math.max(1, Math.min(LEASE_MAX, Math.floor(points / 100)));
  const leases = new Map<string, Lease>();
  // The store's own count, read as any limiter reads it (`check` only).
  const counted = wrapLimiter(store, points);

  const refused = (l: Lease, t: number): LimitResult => ({
    allowed: false,
    retryAfterSeconds: Math.max(1, Math.ceil((l.until - t) / 1000)),
  });

  /** Takes the key's next lease from the store into `l`; false when the store could not answer. */
  const take = async (key: string, l: Lease): Promise<boolean> => {
    const sent = now();
    const size = l.until > sent ? Math.min(l.size * 2, ceiling) : 1;
    let res: RateLimiterRes;
    try {
      res = await store.consume(key, size);
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) return false;
      res = err;
    }
    // The store's count after this lease: what it covers is the budget minus what it held before.
    const granted = Math.min(size, points - (res.consumedPoints - size));
    // From when the request left: the store's window ends no later than that.
    l.until = sent + res.msBeforeNext;
    l.size = size;
    l.left = Math.max(0, granted);
    l.spent = granted <= 0;
    return true;
  };

  // Down to three quarters of the bound, so that a stream of new keys prunes once per
  // quarter of it, not on every request.
  const prune = (t: number) => {
    for (const [k, l] of leases) if (l.until <= t && !l.taking) leases.delete(k);
    for (const k of leases.keys()) {
      if (leases.size <= (MAX_LEASES * 3) / 4) break;
      leases.delete(k);
    }
  };

  return {
    async consume(key) {
      for (;;) {
        const t = now();
        let l = leases.get(key);
        if (l && l.until <= t && !l.taking) {
          l.left = 0;
          l.spent = false;
        }
        if (l && l.left > 0) {
          l.left--;
          return { allowed: true, remaining: l.left };
        }
        if (l?.spent) return refused(l, t);
        if (!l) {
          if (leases.size >= MAX_LEASES) prune(t);
          l = { left: 0, until: 0, size: 0, spent: false, taking: null };
          leases.set(key, l);
        }
        const lease = l;
        lease.taking ??= take(key, lease).finally(() => {
          lease.taking = null;
        });
        if (!(await lease.taking)) return fallback.consume(key);
      }
    },
    async check(key) {
      const l = leases.get(key);
      const t = now();
      if (l && l.until > t && l.left > 0) return { allowed: true, remaining: l.left };
      if (l && l.until > t && l.spent) return refused(l, t);
      try {
        return await counted.check(key);
      } catch {
        return fallback.check(key);
      }
    },
    async reset(key) {
      leases.delete(key);
      await Promise.all([store.delete(key), fallback.reset(key)]);
    },
  };
}
