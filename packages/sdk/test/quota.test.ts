import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import {
  check,
  createQuota,
  createVerifier,
  fastifyHook,
  memoryQuotaStore,
  metadataUrl,
  parseLimits,
  periodOfName,
  QuotaExceededError,
  type Principal,
  type QuotaStore,
  redisQuotaStore,
  type Verifier,
} from '../src/index.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const PRM = metadataUrl(RESOURCE);
const DAY = 86_400_000;

const principal = (p: Partial<Principal> = {}): Principal => ({
  sub: 'user-1',
  email: null,
  name: null,
  org_id: 'org-1',
  org_slug: null,
  org_role: null,
  client_id: null,
  scopes: [],
  token_kind: 'pat',
  expires_at: null,
  ...p,
});

describe('quotas in check() (a stand-in Latchkey answering agent keys with mcp_calls_per_day)', () => {
  let latchkey: { url: string; close(): Promise<void> };
  let verifier: Verifier;
  let api: FastifyInstance;
  let now = Date.UTC(2030, 0, 1, 23, 59, 0);
  let failing = false;
  const store = memoryQuotaStore({ now: () => now });
  const quota = createQuota({
    store: {
      increment: (key, ttl) =>
        failing ? Promise.reject(new Error('store down')) : store.increment(key, ttl),
    },
    now: () => now,
  });

  before(async () => {
    const server = createServer((req, res) => {
      if (req.url === '/.well-known/oauth-authorization-server') {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(
            JSON.stringify({ issuer: latchkey.url, introspection_endpoint: `${latchkey.url}/introspect` }),
          );
        return;
      }
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        const token = new URLSearchParams(body).get('token');
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify(
            token?.startsWith('agent-')
              ? {
                  active: true,
                  token_kind: 'svc_agent',
                  aud: RESOURCE,
                  sub: token,
                  org_id: 'org-q',
                  scope: 'mcp:read',
                  agent: { id: token, claimed: true },
                  mcp_calls_per_day: 3,
                }
              : { active: false },
          ),
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    latchkey = {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () =>
        new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
    };
    verifier = createVerifier({
      issuer: latchkey.url,
      resource: RESOURCE,
      credentials: { id: 'a', secret: 'b' },
      acceptApiTokens: true,
      revocationStream: false,
    });
    api = Fastify();
    api.get(
      '/read',
      { preHandler: fastifyHook(verifier, { resourceMetadataUrl: PRM, scopes: ['mcp:read'], quota }) },
      async () => ({ ok: true }),
    );
    api.get(
      '/write',
      { preHandler: fastifyHook(verifier, { resourceMetadataUrl: PRM, scopes: ['mcp:write'], quota }) },
      async () => ({ ok: true }),
    );
    await api.ready();
  });
  after(async () => {
    await api.close();
    verifier.close();
    await latchkey.close();
  });

  const call = (token: string, url = '/read') =>
    api.inject({ url, headers: { authorization: `Bearer ${token}` } });

  it('spends the budget, then answers 429 with Retry-After until the next UTC midnight, then allows again', async () => {
    // The token and scope checks come first: their refusals spend nothing.
    assert.equal((await call('nope')).statusCode, 401);
    assert.equal((await call('agent-1', '/write')).statusCode, 403);
    for (let i = 0; i < 3; i++) assert.equal((await call('agent-1')).statusCode, 200);
    const spent = await call('agent-1');
    assert.equal(spent.statusCode, 429);
    assert.equal(spent.headers['retry-after'], '60');
    assert.equal(spent.headers['cache-control'], 'no-store');
    assert.equal(spent.json().error, 'quota_exceeded');
    // The budget is the org's: another agent key in the same org is refused too.
    assert.equal((await call('agent-2')).statusCode, 429);
    now += 59_500;
    assert.equal((await call('agent-1')).headers['retry-after'], '1');
    now = Date.UTC(2030, 0, 2);
    for (let i = 0; i < 3; i++) assert.equal((await call('agent-2')).statusCode, 200);
    const again = await call('agent-1');
    assert.equal(again.statusCode, 429);
    assert.equal(again.headers['retry-after'], '86400');
  });

  it('fails closed (503) when the quota store cannot be reached', async () => {
    failing = true;
    try {
      const r = await check(verifier, 'Bearer agent-3', { resourceMetadataUrl: PRM, quota });
      assert.ok('refusal' in r);
      assert.equal(r.refusal.status, 503);
      assert.equal(r.refusal.body.error, 'temporarily_unavailable');
    } finally {
      failing = false;
    }
  });
});

describe('createQuota', () => {
  it('counts down remaining, and leaves principals without a budget alone', async () => {
    let touched = 0;
    const inner = memoryQuotaStore();
    const store: QuotaStore = { increment: (k, t) => (touched++, inner.increment(k, t)) };
    const q = createQuota({ store, now: () => Date.UTC(2030, 5, 1, 12) });
    const limited = principal({ limits: { mcp_calls_per_day: 2 } });
    assert.deepEqual(await q.consume(limited), { allowed: true, remaining: 1 });
    assert.deepEqual(await q.consume(limited), { allowed: true, remaining: 0 });
    assert.deepEqual(await q.consume(limited), { allowed: false, retryAfterSeconds: 12 * 3600 });
    assert.equal(touched, 3);
    assert.deepEqual(await q.consume(principal()), { allowed: true, remaining: null });
    assert.equal(touched, 3);
    // A budget that is zero or not a number refuses without counting.
    for (const n of [0, Number.NaN, -5]) {
      const r = await createQuota({ store, limit: () => n }).consume(principal());
      assert.equal(r.allowed, false);
    }
    assert.equal(touched, 3);
  });

  it('keys by org (or subject without one) by default, by subject with "token", or by a function', async () => {
    const budgetOf = async (q: ReturnType<typeof createQuota>, p: Principal) => {
      const r = await q.consume(p);
      return r.allowed ? r.remaining : -1;
    };
    const byOrg = createQuota({ store: memoryQuotaStore(), limit: () => 10 });
    assert.equal(await budgetOf(byOrg, principal({ sub: 'a', org_id: 'o' })), 9);
    assert.equal(await budgetOf(byOrg, principal({ sub: 'b', org_id: 'o' })), 8);
    assert.equal(await budgetOf(byOrg, principal({ sub: 'a', org_id: null })), 9);
    assert.equal(await budgetOf(byOrg, principal({ sub: 'a', org_id: null })), 8);
    const byToken = createQuota({ store: memoryQuotaStore(), limit: () => 10, key: 'token' });
    assert.equal(await budgetOf(byToken, principal({ sub: 'a', org_id: 'o' })), 9);
    assert.equal(await budgetOf(byToken, principal({ sub: 'b', org_id: 'o' })), 9);
    const byAgent = createQuota({
      store: memoryQuotaStore(),
      limit: () => 10,
      key: (p) => `agent:${p.agent?.id ?? p.sub}`,
    });
    assert.equal(await budgetOf(byAgent, principal({ agent: { id: 'x', claimed: true } })), 9);
    assert.equal(await budgetOf(byAgent, principal({ sub: 'y', agent: { id: 'x', claimed: false } })), 8);
    assert.throws(() => createQuota({ store: memoryQuotaStore(), key: 'nope' as 'org' }), TypeError);
  });

  it('the memory store stays within maxKeys, forgetting the oldest counter first', async () => {
    const store = memoryQuotaStore({ maxKeys: 2 });
    assert.equal(await store.increment('a', DAY), 1);
    assert.equal(await store.increment('a', DAY), 2);
    assert.equal(await store.increment('b', DAY), 1);
    assert.equal(await store.increment('c', DAY), 1);
    assert.equal(await store.increment('b', DAY), 2);
    assert.equal(await store.increment('a', DAY), 1);
    assert.throws(() => memoryQuotaStore({ maxKeys: 0 }), TypeError);
  });

  it('the memory store expires counters after their TTL', async () => {
    let now = 1_000;
    const store = memoryQuotaStore({ now: () => now });
    assert.equal(await store.increment('k', 100), 1);
    now += 99;
    assert.equal(await store.increment('k', 100), 2);
    now += 1;
    assert.equal(await store.increment('k', 100), 1);
  });
});

describe('budgets with their period (day or calendar month, UTC)', () => {
  const agent = (limits: Record<string, number>, periods: Record<string, 'day' | 'month'>) =>
    principal({ org_id: 'org-agent', limits, limit_periods: periods });

  it('reads every limit of an introspection answer with its period, and refuses malformed ones', () => {
    assert.deepEqual(
      parseLimits({
        mcp_calls_per_day: 200,
        limits: {
          mcp_calls_per_day: { limit: 200, period: 'day' },
          guard_runs_per_month: { limit: 50, period: 'month' },
        },
      }),
      {
        limits: { mcp_calls_per_day: 200, guard_runs_per_month: 50 },
        periods: { mcp_calls_per_day: 'day', guard_runs_per_month: 'month' },
      },
    );
    assert.equal(parseLimits({}), null);
    for (const bad of [
      { limits: [] },
      { limits: { runs: { limit: 1, period: 'week' } } },
      { limits: { runs: { limit: -1, period: 'day' } } },
      { limits: { runs: { limit: 1.5, period: 'day' } } },
      { limits: { 'Bad-Name': { limit: 1, period: 'day' } } },
      { limits: { runs: 5 } },
      { mcp_calls_per_day: '5' },
    ])
      assert.throws(() => parseLimits(bad), TypeError, JSON.stringify(bad));
    assert.equal(periodOfName('guard_runs_per_month'), 'month');
    assert.equal(periodOfName('calls_per_day'), 'day');
    assert.equal(periodOfName('calls'), null);
  });

  it('a monthly budget (memory store) lasts the calendar month and renews at 00:00 UTC on the 1st', async () => {
    let now = Date.UTC(2030, 0, 31, 23, 59, 0);
    const store = memoryQuotaStore({ now: () => now });
    const q = createQuota({ store, limit: 'guard_runs_per_month', now: () => now });
    const p = agent(
      { guard_runs_per_month: 2, mcp_calls_per_day: 100 },
      { guard_runs_per_month: 'month', mcp_calls_per_day: 'day' },
    );
    assert.deepEqual(await q.consume(p), { allowed: true, remaining: 1 });
    assert.deepEqual(await q.consume(p), { allowed: true, remaining: 0 });
    // Refused until February begins: 60 seconds away.
    assert.deepEqual(await q.consume(p), { allowed: false, retryAfterSeconds: 60 });
    now = Date.UTC(2030, 1, 1, 0, 0, 0);
    assert.deepEqual(await q.consume(p), { allowed: true, remaining: 1 }, 'a new month, a new budget');
    assert.deepEqual(await q.consume(p), { allowed: true, remaining: 0 });
    // Spent for the rest of February: 28 days to March.
    now = Date.UTC(2030, 1, 15, 12);
    assert.deepEqual(await q.consume(p), {
      allowed: false,
      retryAfterSeconds: (Date.UTC(2030, 2, 1) - now) / 1000,
    });
    // The daily budget of the same principal counts apart, in its own window.
    const daily = createQuota({ store, now: () => now });
    assert.deepEqual(await daily.consume(p), { allowed: true, remaining: 99 });
  });

  it('the period comes from Latchkey, else the name, else the option; a principal without the limit is unlimited', async () => {
    const now = Date.UTC(2030, 5, 10, 12);
    const store = memoryQuotaStore({ now: () => now });
    const monthEnd = (Date.UTC(2030, 6, 1) - now) / 1000;
    // Named by Latchkey as monthly, whatever the name says.
    const runs = createQuota({ store, limit: 'runs', now: () => now });
    await runs.consume(agent({ runs: 1 }, { runs: 'month' }));
    assert.deepEqual(await runs.consume(agent({ runs: 1 }, { runs: 'month' })), {
      allowed: false,
      retryAfterSeconds: monthEnd,
    });
    // No period from Latchkey: the name's suffix.
    const byName = createQuota({ store, limit: 'deploys_per_month', now: () => now });
    await byName.consume(principal({ org_id: 'o2', limits: { deploys_per_month: 1 } }));
    assert.deepEqual(await byName.consume(principal({ org_id: 'o2', limits: { deploys_per_month: 1 } })), {
      allowed: false,
      retryAfterSeconds: monthEnd,
    });
    // An explicit period wins.
    const forced = createQuota({ store, limit: 'deploys_per_month', period: 'day', now: () => now });
    await forced.consume(principal({ org_id: 'o3', limits: { deploys_per_month: 1 } }));
    assert.deepEqual(await forced.consume(principal({ org_id: 'o3', limits: { deploys_per_month: 1 } })), {
      allowed: false,
      retryAfterSeconds: 12 * 3600,
    });
    assert.deepEqual(await runs.consume(principal()), { allowed: true, remaining: null });
    assert.throws(() => createQuota({ store, period: 'week' as 'day' }), TypeError);
    assert.throws(() => createQuota({ store, limit: '' }), TypeError);
  });

  it('a refusal of a monthly budget says so', () => {
    assert.equal(new QuotaExceededError(5, 'month').message, "This month's budget is spent.");
    assert.equal(new QuotaExceededError(5, 'day').message, "Today's budget is spent.");
  });
});

describe('redisQuotaStore (real Redis at REDIS_URL)', { skip: !process.env.REDIS_URL }, () => {
  let redis: Redis;
  const prefix = `latchkey-sdk-test:${process.pid}:${randomBytes(6).toString('hex')}:`;
  before(() => {
    redis = new Redis(process.env.REDIS_URL!, { lazyConnect: false, maxRetriesPerRequest: 2 });
  });
  after(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('counts atomically across concurrent calls and expires at the end of the UTC day', async () => {
    const now = Date.UTC(2030, 2, 3, 18);
    const q = createQuota({ store: redisQuotaStore(redis, { prefix }), limit: () => 10, now: () => now });
    const p = principal({ org_id: 'org-redis' });
    const results = await Promise.all(Array.from({ length: 25 }, () => q.consume(p)));
    assert.equal(results.filter((r) => r.allowed).length, 10);
    const refused = results.find((r) => !r.allowed);
    assert.deepEqual(refused, { allowed: false, retryAfterSeconds: 6 * 3600 });
    const key = `${prefix}org:org-redis:2030-03-03`;
    assert.equal(await redis.get(key), '25');
    const ttl = await redis.pttl(key);
    assert.ok(ttl > 0 && ttl <= 6 * 3600 * 1000, String(ttl));
    // The next day is a new window.
    const tomorrow = createQuota({
      store: redisQuotaStore(redis, { prefix }),
      limit: () => 10,
      now: () => now + 6 * 3600 * 1000,
    });
    assert.deepEqual(await tomorrow.consume(p), { allowed: true, remaining: 9 });
  });

  it('a monthly budget rolls over at the month boundary, shared through Redis', async () => {
    let now = Date.UTC(2030, 11, 31, 23, 0, 0);
    const p = principal({
      org_id: 'org-month',
      limits: { guard_runs_per_month: 3 },
      limit_periods: { guard_runs_per_month: 'month' },
    });
    // Two replicas of a resource server, one Redis.
    const replicas = [0, 1].map(() =>
      createQuota({
        store: redisQuotaStore(redis, { prefix }),
        limit: 'guard_runs_per_month',
        now: () => now,
      }),
    );
    const results = await Promise.all([0, 1, 2, 3, 4].map((i) => replicas[i % 2]!.consume(p)));
    assert.equal(results.filter((r) => r.allowed).length, 3);
    assert.deepEqual(
      results.find((r) => !r.allowed),
      { allowed: false, retryAfterSeconds: 3600 },
    );
    const key = `${prefix}org:org-month:guard_runs_per_month:2030-12`;
    assert.equal(await redis.get(key), '5');
    const ttl = await redis.pttl(key);
    assert.ok(ttl > 0 && ttl <= 3600 * 1000, String(ttl));
    // January 2031: a new window, a new key.
    now = Date.UTC(2031, 0, 1, 0, 0, 1);
    assert.deepEqual(await replicas[1]!.consume(p), { allowed: true, remaining: 2 });
    assert.equal(await redis.get(`${prefix}org:org-month:guard_runs_per_month:2031-01`), '1');
  });

  it('gives a counter that lost its expiry one again', async () => {
    const store = redisQuotaStore(redis, { prefix });
    await redis.set(`${prefix}stuck`, '4');
    assert.equal(await store.increment('stuck', 60_000), 5);
    const ttl = await redis.pttl(`${prefix}stuck`);
    assert.ok(ttl > 0 && ttl <= 60_000, String(ttl));
  });
});
