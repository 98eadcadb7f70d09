import { type RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import type { LimitResult, RateLimiter } from './types.js';

/** Adapts a rate-limiter-flexible limiter (memory or Redis) to our RateLimiter interface. */
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
      if (res && res.consumedPoints >= points) return denied(res);
      return { allowed: true, remaining: res ? Math.max(0, points - res.consumedPoints) : points };
    },
    async reset(key) {
      await impl.delete(key);
    },
  };
}
