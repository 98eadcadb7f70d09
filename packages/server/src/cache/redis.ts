import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { wrapLimiter } from './limiter.js';
import type { Cache } from './types.js';

export interface RedisCacheOptions {
  url: string;
  /** Prefix for every key and channel (isolates tenants of one Redis, and test runs). */
  prefix?: string;
}

/** Redis-backed cache: shared by every node, so limits and revocations hold across the cluster. */
export async function createRedisCache(opts: RedisCacheOptions): Promise<Cache> {
  const prefix = opts.prefix ?? 'latchkey:';
  const client = new Redis(opts.url, {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
  });
  // Errors surface on commands (and /readyz); the client reconnects by itself.
  client.on('error', () => {});
  await client.connect();
  let subscriber: Redis | null = null;
  const handlers = new Map<string, Set<(m: string) => void>>();

  const getSubscriber = async (): Promise<Redis> => {
    if (subscriber) return subscriber;
    const s = client.duplicate();
    s.on('error', () => {});
    s.on('message', (channel: string, message: string) => {
      for (const h of handlers.get(channel) ?? []) h(message);
    });
    subscriber = s;
    return s;
  };

  return {
    kind: 'redis',
    get: (key) => client.get(prefix + key),
    async set(key, value, ttlMs) {
      if (ttlMs) await client.set(prefix + key, value, 'PX', Math.max(1, Math.ceil(ttlMs)));
      else await client.set(prefix + key, value);
    },
    async delete(key) {
      await client.del(prefix + key);
    },
    getDel: (key) => client.getdel(prefix + key),
    async incr(key, ttlMs) {
      const k = prefix + key;
      if (!ttlMs) return client.incr(k);
      const [[, n]] = (await client.multi().incr(k).pexpire(k, Math.ceil(ttlMs), 'NX').exec()) as [
        [Error | null, number],
      ];
      return n;
    },
    async publish(channel, message) {
      await client.publish(prefix + channel, message);
    },
    async subscribe(channel, handler) {
      const s = await getSubscriber();
      const full = prefix + channel;
      let set = handlers.get(full);
      if (!set) {
        set = new Set();
        handlers.set(full, set);
        await s.subscribe(full);
      }
      set.add(handler);
      return async () => {
        const hs = handlers.get(full);
        if (!hs) return;
        hs.delete(handler);
        if (hs.size === 0) {
          handlers.delete(full);
          await s.unsubscribe(full);
        }
      };
    },
    limiter({ name, points, windowSeconds }) {
      return wrapLimiter(
        new RateLimiterRedis({
          storeClient: client,
          keyPrefix: `${prefix}rl:${name}`,
          points,
          duration: windowSeconds,
        }),
        points,
      );
    },
    async ping() {
      await client.ping();
    },
    async close() {
      subscriber?.disconnect();
      await client.quit().catch(() => client.disconnect());
    },
  };
}
