import { type RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import type { LimitResult, RateLimiter } from './types.js';

/**
 * Adapts a rate-limiter-flexible limiter (memory or Redis) to our RateLimiter interface. A Redis
 * limiter's insurance limiter answers with its own (smaller) budget, so "over the budget" is read
 * from the answer's remaining points, not from `points`.
 */
export function wrapLimiter(impl: RateLimiterAbstract, points: number): RateLimiter {
  const denied = (res: RateLimiterRes): LimitResult => ({
    allowed: false,
    retryAfterSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
  });
  return {
    async consume(key) {
      try {
        const res = await impl.consume(key);
        return { allowed: true, remaining: res.remainingPoints };
      } catch (err) {
        if (err instanceof RateLimiterRes) return denied(err);
        throw err;
      }
    },
    async check(key) {
      const res = await impl.get(key);
      if (res && res.remainingPoints <= 0) return denied(res);
      return { allowed: true, remaining: res ? res.remainingPoints : points };
    },
    async reset(key) {
      await impl.delete(key);
    },
  };
}
