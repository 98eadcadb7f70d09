import { EventEmitter } from 'node:events';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { wrapLimiter } from './limiter.js';
import type { Cache, RateLimiter } from './types.js';

interface Entry {
  value: string;
  expiresAt: number;
}

/** Default bound on entries; the oldest inserted entry is evicted first when full. */
export const MEMORY_CACHE_MAX_ENTRIES = 100_000;

/** In-process cache for the embedded (single-node) shape. Bounded; expired entries are dropped lazily. */
export function createMemoryCache(opts: { maxEntries?: number; now?: () => number } = {}): Cache {
  const max = opts.maxEntries ?? MEMORY_CACHE_MAX_ENTRIES;
  const now = opts.now ?? Date.now;
  const map = new Map<string, Entry>();
  const limiters = new Map<string, RateLimiter>();
  const bus = new EventEmitter();
  bus.setMaxListeners(0);

  const live = (key: string): Entry | undefined => {
    const e = map.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= now()) {
      map.delete(key);
      return undefined;
    }
    return e;
  };
  const put = (key: string, value: string, ttlMs?: number) => {
    map.delete(key);
    if (map.size >= max) {
      const oldest = map.keys().next();
      if (!oldest.done) map.delete(oldest.value);
    }
    map.set(key, { value, expiresAt: ttlMs ? now() + ttlMs : Number.POSITIVE_INFINITY });
  };

  return {
    kind: 'memory',
    async get(key) {
      return live(key)?.value ?? null;
    },
    async set(key, value, ttlMs) {
      put(key, value, ttlMs);
    },
    async delete(key) {
      map.delete(key);
    },
    async getDel(key) {
      const e = live(key);
      map.delete(key);
      return e?.value ?? null;
    },
    async incr(key, ttlMs) {
      const e = live(key);
      const n = (e ? Number(e.value) : 0) + 1;
      if (e) e.value = String(n);
      else put(key, String(n), ttlMs);
      return n;
    },
    async publish(channel, message) {
      // Delivered asynchronously, like Redis.
      queueMicrotask(() => bus.emit(channel, message));
    },
    async subscribe(channel, handler) {
      bus.on(channel, handler);
      return async () => {
        bus.off(channel, handler);
      };
    },
    limiter({ name, points, windowSeconds }) {
      // One limiter per name, as Redis shares one keyspace per name.
      const id = `${name}:${points}:${windowSeconds}`;
      let l = limiters.get(id);
      if (!l) {
        l = wrapLimiter(new RateLimiterMemory({ keyPrefix: name, points, duration: windowSeconds }), points);
        limiters.set(id, l);
      }
      return l;
    },
    async ping() {},
    changeLog: null,
    async close() {
      map.clear();
      bus.removeAllListeners();
    },
  };
}
