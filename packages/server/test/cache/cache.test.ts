import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMemoryCache } from '../../src/cache/memory.js';
import { createRedisCache } from '../../src/cache/redis.js';
import type { Cache } from '../../src/cache/types.js';
import { BACKEND, deleteRedisPrefix } from '../helpers/storage.js';

// One suite, run on the memory cache (embedded backend) and on Redis (external backend).
const prefix = `lkt:${randomBytes(6).toString('hex')}:`;
const redisUrl = process.env.REDIS_URL ?? '';

/** Two handles on "the same" cache, as two nodes would have. Memory is per process: one shared object. */
async function open(): Promise<[Cache, Cache]> {
  if (BACKEND === 'external') {
    return [
      await createRedisCache({ url: redisUrl, prefix }),
      await createRedisCache({ url: redisUrl, prefix }),
    ];
  }
  const c = createMemoryCache();
  return [c, c];
}

let a: Cache;
let b: Cache;
before(async () => {
  [a, b] = await open();
});
after(async () => {
  await a.close();
  if (b !== a) await b.close();
  if (BACKEND === 'external') await deleteRedisPrefix(redisUrl, prefix);
});

const key = () => `k:${randomBytes(6).toString('hex')}`;

describe(`cache (${BACKEND === 'external' ? 'redis' : 'memory'})`, () => {
  it('gets what was set and forgets deleted keys', async () => {
    const k = key();
    assert.equal(await a.get(k), null);
    await a.set(k, 'v1');
    assert.equal(await b.get(k), 'v1');
    await b.delete(k);
    assert.equal(await a.get(k), null);
  });

  it('expires keys after their TTL', async () => {
    const k = key();
    await a.set(k, 'short', 40);
    assert.equal(await a.get(k), 'short');
    await sleep(120);
    assert.equal(await a.get(k), null);
  });

  it('getDel hands a value to exactly one of many concurrent callers', async () => {
    const k = key();
    await a.set(k, 'once');
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).getDel(k)));
    assert.equal(results.filter((r) => r === 'once').length, 1);
    assert.equal(await a.get(k), null);
  });

  it('increments atomically and sets the TTL when the counter is created', async () => {
    const k = key();
    const values = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).incr(k, 60_000)));
    assert.deepEqual(
      [...values].sort((x, y) => x - y),
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    const k2 = key();
    await a.incr(k2, 40);
    await sleep(120);
    assert.equal(await a.incr(k2, 40), 1, 'the counter starts again after its window');
  });

  it('publishes to every subscriber, on every handle, until unsubscribed', async () => {
    const channel = `ch:${randomBytes(4).toString('hex')}`;
    const gotA: string[] = [];
    const gotB: string[] = [];
    const offA = await a.subscribe(channel, (m) => gotA.push(m));
    const offB = await b.subscribe(channel, (m) => gotB.push(m));
    await a.publish(channel, 'hello');
    for (let i = 0; i < 50 && (gotA.length < 1 || gotB.length < 1); i++) await sleep(10);
    assert.deepEqual(gotA, ['hello']);
    assert.deepEqual(gotB, ['hello']);
    await offA();
    await b.publish(channel, 'again');
    for (let i = 0; i < 50 && gotB.length < 2; i++) await sleep(10);
    assert.deepEqual(gotB, ['hello', 'again']);
    assert.deepEqual(gotA, ['hello']);
    await offB();
  });

  it('shares a rate limit between handles and reports Retry-After when spent', async () => {
    const name = `lim:${randomBytes(4).toString('hex')}`;
    const la = a.limiter({ name, points: 3, windowSeconds: 60 });
    const lb = b.limiter({ name, points: 3, windowSeconds: 60 });
    assert.equal((await la.consume('ip1')).allowed, true);
    assert.equal((await lb.consume('ip1')).allowed, true);
    assert.equal((await la.consume('ip1')).allowed, true);
    const denied = await lb.consume('ip1');
    assert.equal(denied.allowed, false);
    assert.ok(!denied.allowed && denied.retryAfterSeconds > 0 && denied.retryAfterSeconds <= 60);
    assert.equal((await la.check('ip1')).allowed, false);
    assert.equal((await la.check('ip2')).allowed, true, 'other keys are unaffected');
    await lb.reset('ip1');
    assert.equal((await la.consume('ip1')).allowed, true);
  });
});

describe('memory cache bound', () => {
  it('evicts the oldest entries beyond its bound', async () => {
    const c = createMemoryCache({ maxEntries: 3 });
    for (const k of ['a', 'b', 'c', 'd']) await c.set(k, k);
    assert.equal(await c.get('a'), null);
    assert.equal(await c.get('d'), 'd');
  });
});
