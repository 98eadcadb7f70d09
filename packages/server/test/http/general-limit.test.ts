import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestServer, testServer } from '../helpers/harness.js';

let t: TestServer;
before(async () => {
  t = await testServer({ env: { API_RATE_LIMIT: '5' } });
});
after(() => t.close());

describe('general API limiter', () => {
  it('gives each IP API_RATE_LIMIT requests a minute to /api, then 429 with Retry-After', async () => {
    const c = t.client();
    for (let i = 0; i < 5; i++) assert.equal((await c.get('/api/v1/me')).statusCode, 401);
    const limited = await c.get('/api/v1/me');
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.json().code, 'rate_limited');
    assert.ok(Number(limited.headers['retry-after']) > 0);
    assert.equal((await t.client().get('/api/v1/me')).statusCode, 401, 'another IP is unaffected');
    assert.equal((await c.get('/healthz')).statusCode, 200, 'operations routes are not limited');
  });
});
