import { createMemoryCache } from './memory.js';
import { createRedisCache } from './redis.js';
import type { Cache } from './types.js';

export type { Cache, LimitResult, RateLimiter } from './types.js';

export async function openCache(opts: { redisUrl: string | null; prefix?: string }): Promise<Cache> {
  if (opts.redisUrl) return createRedisCache({ url: opts.redisUrl, ...(opts.prefix ? { prefix: opts.prefix } : {}) });
  return createMemoryCache();
}
