import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { LEASE_MIN_POINTS, leasedLimiter } from './lease.js';
import { wrapLimiter } from './limiter.js';
import type { Cache, ChangeLog, ChangeLogEntry } from './types.js';

/** How long the change log keeps entries; a node that has not read it for longer drops its cache. */
export const CHANGE_LOG_RETAIN_MS = 10 * 60_000;
/** A command Redis has not answered in this long fails (a hung server must not hold requests). */
export const REDIS_COMMAND_TIMEOUT_MS = 3_000;
/** While Redis is unreachable, each node limits on its own with this share of the shared budget. */
export const FALLBACK_LIMIT_SHARE = 0.5;

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
    // While Redis is unreachable, commands fail at once rather than queue: callers degrade
    // (the limiters fall back to memory, credentials are read from the database) or answer 503.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(times * 100, 1_000),
  });
  // Errors surface on commands (and /readyz); the client reconnects by itself.
  client.on('error', () => {});
  await client.connect();
  let subscriber: Redis | null = null;
  let connecting: Promise<Redis> | null = null;
  const handlers = new Map<string, Set<(m: string) => void>>();
  const lostListeners = new Set<() => void>();
  const lost = () => {
    for (const l of lostListeners) l();
  };
  client.on('close', lost);

  const getSubscriber = async (): Promise<Redis> => {
    if (subscriber) return subscriber;
    connecting ??= (async () => {
      // A subscriber connection has no commands to fail fast: it queues its (re)subscriptions.
      const s = client.duplicate({
        enableOfflineQueue: true,
        maxRetriesPerRequest: null,
        // ioredis times out any numeric value, 0 included: none at all here.
        commandTimeout: undefined,
      });
      s.on('error', () => {});
      s.on('close', lost);
      s.on('message', (channel: string, message: string) => {
        for (const h of handlers.get(channel) ?? []) h(message);
      });
      await s.connect();
      subscriber = s;
      return s;
    })();
    return connecting;
  };

  // A request's rate-limit count and its change-log read (and those of the requests that arrive
  // with it) leave in one write: the socket is corked at the first of them and uncorked once the
  // event loop's turn has run its I/O callbacks. Each command is still sent, timed and answered on
  // its own: nothing waits for another command's answer, as ioredis's auto-pipelining would.
  let corked: Redis['stream'] | null = null;
  /**
   * The change-log read still held in the corked socket. Requests that arrive in the same turn ask
   * for the same position, and that read leaves only after all of them arrived: they share it, so
   * a turn costs Redis one XRANGE however many requests it brought.
   */
  let unsentRead: { after: string; count: number; rows: Promise<ChangeLogEntry[]> } | null = null;
  const coalesce = () => {
    const s = client.stream;
    if (!s || corked === s || client.status !== 'ready') return;
    s.cork();
    corked = s;
    setImmediate(() => {
      corked = null;
      unsentRead = null;
      s.uncork();
    });
  };

  const streamKey = `${prefix}changes`;
  const changeLog: ChangeLog = {
    async append(channel, message) {
      const minId = String(Math.max(0, Date.now() - CHANGE_LOG_RETAIN_MS));
      const out = await client
        .multi()
        .xadd(streamKey, 'MINID', '~', minId, '*', 'c', message)
        .publish(prefix + channel, message)
        .exec();
      const failed = out?.find(([err]) => err);
      if (!out || failed) throw failed?.[0] ?? new Error('the change log append was discarded');
    },
    read(after, count) {
      coalesce();
      if (unsentRead?.after === after && unsentRead.count === count && corked === client.stream)
        return unsentRead.rows;
      const rows = client
        .xrange(streamKey, `(${after}`, '+', 'COUNT', count)
        .then((found) => found.map(([id, fields]) => ({ id, message: fields[1] ?? '' })));
      unsentRead = corked === client.stream ? { after, count, rows } : null;
      return rows;
    },
    async end() {
      const rows = await client.xrevrange(streamKey, '+', '-', 'COUNT', 1);
      return rows[0]?.[0] ?? '0-0';
    },
    onLost(listener) {
      lostListeners.add(listener);
    },
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
      // When Redis cannot answer, this node counts on its own, with a smaller budget: N nodes
      // each allowing the whole budget would multiply it.
      const fallbackPoints = Math.max(1, Math.floor(points * FALLBACK_LIMIT_SHARE));
      const fallback = new RateLimiterMemory({
        keyPrefix: `fallback:${name}`,
        points: fallbackPoints,
        duration: windowSeconds,
      });
      const shared = {
        storeClient: client,
        keyPrefix: `${prefix}rl:${name}`,
        points,
        duration: windowSeconds,
        rejectIfRedisNotReady: true,
      };
      // A large budget is taken in leases (`lease.ts`): most events are counted on this node.
      const limiter =
        points >= LEASE_MIN_POINTS
          ? leasedLimiter(new RateLimiterRedis(shared), points, wrapLimiter(fallback, fallbackPoints))
          : wrapLimiter(new RateLimiterRedis({ ...shared, insuranceLimiter: fallback }), points);
      return {
        consume(key) {
          coalesce();
          return limiter.consume(key);
        },
        check: (key) => limiter.check(key),
        reset: (key) => limiter.reset(key),
      };
    },
    async ping() {
      await client.ping();
    },
    changeLog,
    async close() {
      lostListeners.clear();
      // A subscriber still connecting is disconnected once it is up, so it cannot outlive the cache.
      (subscriber ?? (await connecting?.catch(() => null)))?.disconnect();
      await client.quit().catch(() => client.disconnect());
    },
  };
}
