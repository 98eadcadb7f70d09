import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { LEASE_MAX, leasedLimiter } from '../../src/cache/lease.js';
import { wrapLimiter } from '../../src/cache/limiter.js';
import { createRedisCache } from '../../src/cache/redis.js';
import type { Cache, RateLimiter } from '../../src/cache/types.js';
import { BACKEND, deleteRedisPrefix } from '../helpers/storage.js';

/** A store shared by "nodes" that counts what it is asked: each call is a round trip to Redis. */
function countingStore(points: number, windowSeconds = 60) {
  const store = new RateLimiterMemory({ points, duration: windowSeconds });
  const calls = { consume: 0, pointsCounted: 0 };
  const consume = store.consume.bind(store);
  store.consume = (key: string | number, n = 1) => {
    calls.consume++;
    calls.pointsCounted += n;
    return consume(key, n);
  };
  return { store, calls };
}

const noFallback: RateLimiter = {
  consume: () => Promise.reject(new Error('the store answered: no fallback expected')),
  check: () => Promise.reject(new Error('the store answered: no fallback expected')),
  reset: async () => {},
};

async function drain(l: RateLimiter, key: string, max: number): Promise<number> {
  let allowed = 0;
  for (let i = 0; i < max; i++) if ((await l.consume(key)).allowed) allowed++;
  return allowed;
}

describe('leased limiter', () => {
  it('never lets the nodes together allow more than the budget, and allows all of it', async () => {
    const { store } = countingStore(1000);
    const a = leasedLimiter(store, 1000, noFallback);
    const b = leasedLimiter(store, 1000, noFallback);
    let allowed = 0;
    let refusedBoth = false;
    for (let i = 0; i < 3000 && !refusedBoth; i++) {
      const round = await Promise.all([a.consume('ip'), b.consume('ip'), a.consume('ip')]);
      round.push(await b.consume('ip'));
      allowed += round.filter((r) => r.allowed).length;
      refusedBoth = round.every((r) => !r.allowed);
    }
    assert.ok(refusedBoth, 'both nodes end up refusing');
    // Every event a lease covered is allowed once its node has used it, and none beyond.
    assert.equal(allowed + (await drain(a, 'ip', 100)) + (await drain(b, 'ip', 100)), 1000);
  });

  it('asks the store about once per lease, and a key seen once costs the budget one event', async () => {
    const { store, calls } = countingStore(100_000);
    const l = leasedLimiter(store, 100_000, noFallback);
    assert.equal((await l.consume('once')).allowed, true);
    assert.deepEqual(calls, { consume: 1, pointsCounted: 1 });
    assert.equal((await store.get('once'))?.consumedPoints, 1);
    calls.consume = 0;
    calls.pointsCounted = 0;
    assert.equal(await drain(l, 'busy', 1000), 1000);
    // Leases of 1, 2, 4 … 64, then 64 at a time: about 1000 / 64 + 7 calls, not 1000.
    assert.ok(calls.consume <= 1000 / LEASE_MAX + 8, `${calls.consume} calls to the store`);
    assert.ok(calls.pointsCounted >= 1000 && calls.pointsCounted < 1000 + LEASE_MAX);
  });

  it('counts every event in the store when the budget is too small for leases', async () => {
    const { store, calls } = countingStore(150);
    const l = leasedLimiter(store, 150, noFallback);
    assert.equal(await drain(l, 'k', 10), 10);
    assert.equal(calls.consume, 10);
  });

  it('lets concurrent callers of one key wait for one lease instead of taking one each', async () => {
    const { store, calls } = countingStore(10_000);
    const l = leasedLimiter(store, 10_000, noFallback);
    const results = await Promise.all(Array.from({ length: 50 }, () => l.consume('k')));
    assert.ok(results.every((r) => r.allowed));
    assert.ok(calls.consume <= 8, `${calls.consume} calls for 50 concurrent events`);
  });

  it('refuses on its own once the store refused, until the window ends, with Retry-After', async () => {
    const { store, calls } = countingStore(200);
    const l = leasedLimiter(store, 200, noFallback);
    assert.equal(await drain(l, 'k', 300), 200);
    const before = calls.consume;
    const refused = await l.consume('k');
    assert.equal(refused.allowed, false);
    assert.ok(!refused.allowed && refused.retryAfterSeconds >= 1 && refused.retryAfterSeconds <= 60);
    assert.equal(calls.consume, before, 'a spent key does not reach the store');
    assert.equal((await l.check('k')).allowed, false);
    assert.equal((await l.check('other')).allowed, true);
  });

  it('starts again when the window ends, and after a reset', async () => {
    let clock = 1_000_000;
    const store = new RateLimiterMemory({ points: 200, duration: 1 });
    const l = leasedLimiter(store, 200, noFallback, () => clock);
    assert.equal(await drain(l, 'k', 250), 200);
    await new Promise((r) => setTimeout(r, 1100));
    clock += 1100;
    assert.equal(await drain(l, 'k', 10), 10, 'a new window, a new budget');
    await l.reset('k');
    assert.equal(await store.get('k'), null);
    assert.equal((await l.consume('k')).allowed, true);
  });

  it('drops the oldest leases past its bound: their events are lost, never allowed twice', async () => {
    const { store, calls } = countingStore(1000);
    const l = leasedLimiter(store, 1000, noFallback);
    assert.equal(await drain(l, 'first', 30), 30);
    const counted = (await store.get('first'))!.consumedPoints;
    for (let i = 0; i < 11_000; i++) await l.consume(`k${i}`);
    const before = calls.consume;
    assert.equal((await l.consume('first')).allowed, true);
    assert.equal(calls.consume, before + 1, 'the dropped lease is taken again from the store');
    assert.equal((await store.get('first'))!.consumedPoints, counted + 1, 'a new lease, of one event');
  });

  it('dates a lease from when it was asked for, not from when the answer came', async () => {
    let clock = 0;
    const { store, calls } = countingStore(1000);
    const consume = store.consume.bind(store);
    // The store's window has a second left whenever it is asked; each answer takes half a second.
    store.consume = async (key: string | number, n = 1) => {
      const r = await consume(key, n);
      clock += 500;
      return new RateLimiterRes(r.remainingPoints, 1000, r.consumedPoints);
    };
    const l = leasedLimiter(store, 1000, noFallback, () => clock);
    assert.equal((await l.consume('k')).allowed, true);
    assert.equal((await l.consume('k')).allowed, true);
    // The second lease (two events, one left) was asked for at 500 ms: void from 1 500 ms.
    const before = calls.consume;
    clock = 1600;
    assert.equal((await l.consume('k')).allowed, true);
    assert.equal(calls.consume, before + 1, 'the lease outlived its window');
  });

  it('counts on the fallback when the store cannot answer', async () => {
    const down = new RateLimiterMemory({ points: 1000, duration: 60 });
    down.consume = () => Promise.reject(new Error('connection refused'));
    down.get = () => Promise.reject(new Error('connection refused'));
    const fallback = wrapLimiter(new RateLimiterMemory({ points: 3, duration: 60 }), 3);
    const l = leasedLimiter(down, 1000, fallback);
    assert.equal(await drain(l, 'k', 5), 3);
    assert.equal((await l.check('k')).allowed, false);
  });

  it('reads a partial lease from the store: only what is left of the budget', async () => {
    const { store } = countingStore(1000);
    await store.consume('k', 990);
    const l = leasedLimiter(store, 1000, noFallback);
    assert.equal(await drain(l, 'k', 50), 10);
    assert.ok((await store.get('k'))!.consumedPoints >= 1000);
  });
});

describe(`leased limiter over ${BACKEND === 'external' ? 'Redis' : 'the memory cache'}`, () => {
  const prefix = `lkt:${randomBytes(6).toString('hex')}:`;
  const caches: Cache[] = [];
  after(async () => {
    for (const c of caches) await c.close();
    if (BACKEND === 'external') await deleteRedisPrefix(process.env.REDIS_URL ?? '', prefix);
  });

  it('shares a large budget between two nodes exactly', { skip: BACKEND !== 'external' }, async () => {
    const url = process.env.REDIS_URL ?? '';
    const a = await createRedisCache({ url, prefix });
    const b = await createRedisCache({ url, prefix });
    caches.push(a, b);
    const name = `lease:${randomBytes(4).toString('hex')}`;
    const la = a.limiter({ name, points: 500, windowSeconds: 60 });
    const lb = b.limiter({ name, points: 500, windowSeconds: 60 });
    const both = await Promise.all(
      Array.from({ length: 700 }, (_, i) => (i % 2 ? la : lb).consume('203.0.113.7')),
    );
    const allowed = both.filter((r) => r.allowed).length;
    const rest = (await drain(la, '203.0.113.7', 20)) + (await drain(lb, '203.0.113.7', 20));
    assert.equal(allowed + rest, 500);
    const refused = await la.consume('203.0.113.7');
    assert.ok(!refused.allowed && refused.retryAfterSeconds > 0 && refused.retryAfterSeconds <= 60);
  });
});
