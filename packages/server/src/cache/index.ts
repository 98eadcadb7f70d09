import { createMemoryCache } from './memory.js';
import type { Cache } from './types.js';

export type { Cache, LimitResult, RateLimiter } from './types.js';

export async function openCache(opts: { redisUrl: string | null; prefix?: string }): Promise<Cache> {
  if (opts.redisUrl) {
    // Loaded only when used: the embedded shape never pays for the Redis client.
    const { createRedisCache } = await import('./redis.js');
    return createRedisCache({ url: opts.redisUrl, ...(opts.prefix ? { prefix: opts.prefix } : {}) });
  }
  return createMemoryCache();
}
