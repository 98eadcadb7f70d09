import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { type TestServer, testServer } from '../helpers/harness.js';
import { BACKEND, openTestStorage } from '../helpers/storage.js';
import { allRoutes } from './routes.js';

let t: TestServer;
before(async () => {
  t = await testServer();
});
after(() => t.close());

describe('GET /healthz and /readyz', () => {
  it('/healthz answers 200 while the process is up', async () => {
    const res = await t.app.inject({ url: '/healthz' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { status: 'ok' });
  });

  it('/readyz answers 200 when the database and the cache answer', async () => {
    const res = await t.app.inject({ url: '/readyz' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { status: 'ready', database: 'ok', cache: 'ok' });
  });

  it('/readyz answers 503 when the database has gone away, and /healthz still 200', async () => {
    const storage = await openTestStorage();
    const t2 = await testServer({ storage });
    try {
      await storage.storage.close();
      const res = await t2.app.inject({ url: '/readyz' });
      assert.equal(res.statusCode, 503);
      assert.deepEqual(res.json(), { status: 'unavailable', database: 'unreachable', cache: 'ok' });
      assert.equal((await t2.app.inject({ url: '/healthz' })).statusCode, 200);
    } finally {
      await t2.close();
      await storage.close().catch(() => {}); // the database handle is closed already
    }
  });

  it('/readyz answers 503 when Redis has gone away (external backend; the memory cache cannot)', async (ctx) => {
    if (BACKEND !== 'external') {
      ctx.diagnostic('embedded backend: the in-process cache has no connection to lose');
      return;
    }
    const storage = await openTestStorage();
    const t2 = await testServer({ storage });
    try {
      await storage.cache.close();
      const res = await t2.app.inject({ url: '/readyz' });
      assert.equal(res.statusCode, 503);
      assert.deepEqual(res.json(), { status: 'unavailable', database: 'ok', cache: 'unreachable' });
    } finally {
      await t2.close();
      await storage.close().catch(() => {});
    }
  });
});

describe('GET /metrics', () => {
  it('counts requests by route pattern and status, never by raw URL', async () => {
    const c = t.client();
    const { org } = await c.signup();
    const id = randomUUID();
    const secret = `tok${randomUUID().replace(/-/g, '')}`;
    assert.equal((await c.delete(`/api/v1/org/invitations/${id}`, org.id)).statusCode, 404);
    await t.app.inject({ url: `/api/auth/magic-link/callback?token=${secret}` });
    await t.app.inject({ url: `/api/v1/no-such-thing/${id}?token=${secret}` });

    const res = await t.app.inject({ url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const text = res.body;
    assert.match(text, /# TYPE latchkey_http_requests_total counter/);
    assert.ok(
      text.includes(
        'latchkey_http_requests_total{method="DELETE",route="/api/v1/org/invitations/:id",status="404"} 1',
      ),
      'DELETE by pattern with its status',
    );
    assert.ok(
      text.includes('latchkey_http_requests_total{method="POST",route="/api/auth/signup",status="201"}'),
    );
    assert.ok(text.includes('route="/api/auth/magic-link/callback",status="400"'));
    assert.match(text, /latchkey_http_requests_total\{method="GET",route="unmatched",status="404"\} 1/);
    assert.match(
      text,
      /latchkey_http_request_duration_seconds_bucket\{le="0\.005",method="POST",route="\/api\/auth\/signup",status="201"\}/,
    );
    assert.ok(!text.includes(id), 'no ids in labels');
    assert.ok(!text.includes(secret), 'no tokens in labels');
    assert.ok(!text.includes('no-such-thing'), 'no raw unmatched paths in labels');
    // Default process metrics come along, prefixed.
    assert.match(text, /latchkey_process_resident_memory_bytes \d+/);
  });
});

describe('GET /api/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const res = await t.app.inject({ url: '/api/openapi.json' });
    assert.equal(res.statusCode, 200);
    const doc = res.json();
    assert.equal(doc.openapi, '3.1.0');
    const result = await new Validator().validate(doc);
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 1)?.slice(0, 2000));
  });

  it('lists every /api/v1 and /api/auth route the server has, with its method', async () => {
    const doc = (await t.app.inject({ url: '/api/openapi.json' })).json() as {
      paths: Record<string, Record<string, unknown>>;
    };
    const served = allRoutes(t.app).filter((r) => /^\/api\/(v1|auth)\//.test(r.path));
    assert.ok(served.length >= 20);
    for (const r of served) {
      const path = r.path.replace(/:(\w+)/g, '{$1}');
      assert.ok(
        doc.paths[path]?.[r.method.toLowerCase()],
        `${r.method} ${path} is missing from the document`,
      );
    }
    // And nothing the server does not serve (the OAuth endpoints and discovery documents included).
    const all = allRoutes(t.app);
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) {
        const pattern = path.replace(/\{(\w+)\}/g, ':$1');
        assert.ok(
          all.some((r) => r.path === pattern && r.method.toLowerCase() === method),
          `${method} ${path} is not served`,
        );
      }
    }
  });
});

describe('security headers', () => {
  it('every kind of answer carries them; /api answers are never cached', async () => {
    const c = t.client();
    await c.signup();
    const answers = {
      'json 200': await c.get('/api/v1/me'),
      'problem 401': await t.app.inject({ url: '/api/v1/me' }),
      'problem 404': await t.app.inject({ url: '/api/v1/nothing-here' }),
      'problem 400': await c.post('/api/v1/orgs', { name: 5 }),
      'problem 403 csrf': await c.req({
        method: 'POST',
        url: '/api/v1/orgs',
        body: { name: 'x' },
        headers: { origin: 'https://evil.example' },
      }),
      'html page': await t.app.inject({ url: '/' }),
      health: await t.app.inject({ url: '/healthz' }),
    };
    for (const [what, res] of Object.entries(answers)) {
      assert.equal(res.headers['x-content-type-options'], 'nosniff', what);
      assert.equal(res.headers['x-frame-options'], 'DENY', what);
      assert.equal(res.headers['referrer-policy'], 'no-referrer', what);
    }
    for (const what of [
      'json 200',
      'problem 401',
      'problem 404',
      'problem 400',
      'problem 403 csrf',
    ] as const) {
      assert.equal(answers[what].headers['cache-control'], 'no-store', what);
    }
    assert.match(String(answers['html page'].headers['content-security-policy']), /default-src/);
  });
});
