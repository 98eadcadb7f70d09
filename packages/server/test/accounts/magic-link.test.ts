import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MINUTE, manualClock } from '../../src/lib/clock.js';
import {
  lastMailTo,
  linkIn,
  PUBLIC_URL,
  readOutbox,
  type TestServer,
  testServer,
  tokenFrom,
  uniqueEmail,
} from '../helpers/harness.js';

const clock = manualClock(new Date());
let t: TestServer;
before(async () => {
  t = await testServer({ clock });
});
after(() => t.close());

async function requestLink(email: string, extra: Record<string, string> = {}) {
  const res = await t.client().post('/api/auth/magic-link', { email, ...extra });
  assert.equal(res.statusCode, 202);
  return linkIn((await lastMailTo(t.outboxDir, email)).text, `${PUBLIC_URL}/api/auth/magic-link/callback`);
}

describe('magic link', () => {
  it('answers 202 with the same body for known and unknown addresses', async () => {
    const c = t.client();
    const { user } = await c.signup();
    const known = await t.client().post('/api/auth/magic-link', { email: user.email });
    const unknown = await t.client().post('/api/auth/magic-link', { email: uniqueEmail('nobody') });
    assert.equal(known.statusCode, 202);
    assert.equal(unknown.statusCode, 202);
    assert.equal(known.body, unknown.body);
  });

  it('signs in an existing account once, and the link is single-use', async () => {
    const { user } = await t.client().signup();
    const link = await requestLink(user.email);
    const c = t.client();
    const res = await c.req({ url: new URL(link).pathname + new URL(link).search });
    assert.equal(res.statusCode, 303);
    assert.equal(res.headers.location, '/');
    const me = await c.get('/api/v1/me');
    assert.equal(me.json().user.id, user.id);
    const again = await t.client().req({ url: new URL(link).pathname + new URL(link).search });
    assert.equal(again.statusCode, 400);
    assert.equal(again.headers['set-cookie'], undefined);
  });

  it('creates the account (with a personal org) when none exists', async () => {
    const email = uniqueEmail('new');
    const link = await requestLink(email);
    const c = t.client();
    const res = await c.req({ url: `/api/auth/magic-link/callback?token=${tokenFrom(link)}` });
    assert.equal(res.statusCode, 303);
    const me = (await c.get('/api/v1/me')).json();
    assert.equal(me.user.email, email);
    assert.equal(me.orgs.length, 1);
    assert.equal(me.orgs[0].role, 'owner');
  });

  it('expires after 15 minutes', async () => {
    const email = uniqueEmail('late');
    const link = await requestLink(email);
    clock.advance(15 * MINUTE + 1);
    const res = await t.client().req({ url: `/api/auth/magic-link/callback?token=${tokenFrom(link)}` });
    assert.equal(res.statusCode, 400);
  });

  it('redirects to a same-origin return_to and refuses open redirects', async () => {
    const email = uniqueEmail('ret');
    const link = await requestLink(email, { return_to: '/app/settings?tab=tokens' });
    const res = await t.client().req({ url: `/api/auth/magic-link/callback?token=${tokenFrom(link)}` });
    assert.equal(res.headers.location, '/app/settings?tab=tokens');
    for (const bad of [
      'https://evil.example/',
      '//evil.example/x',
      '/\\evil.example',
      'javascript:alert(1)',
      '/%0d%0aSet-Cookie:x=y'.replace('%0d%0a', '\r\n'),
    ]) {
      const r = await t.client().post('/api/auth/magic-link', { email, return_to: bad });
      assert.equal(r.statusCode, 400, bad);
      assert.equal(r.json().code, 'invalid_request');
    }
  });

  it('stops mailing one address after 5 links an hour but still answers 202', async () => {
    const email = uniqueEmail('flood');
    const before = (await readOutbox(t.outboxDir)).filter((m) => m.to === email).length;
    for (let i = 0; i < 7; i++) {
      const r = await t.client().post('/api/auth/magic-link', { email });
      assert.equal(r.statusCode, 202);
    }
    const sent = (await readOutbox(t.outboxDir)).filter((m) => m.to === email).length - before;
    assert.equal(sent, 5);
  });

  it('limits one IP to 10 requests an hour with 429', async () => {
    const c = t.client();
    let last = 0;
    for (let i = 0; i < 11; i++)
      last = (await c.post('/api/auth/magic-link', { email: uniqueEmail('ip') })).statusCode;
    assert.equal(last, 429);
  });

  it('refuses a malformed token without a 5xx', async () => {
    for (const url of [
      '/api/auth/magic-link/callback',
      '/api/auth/magic-link/callback?token=',
      `/api/auth/magic-link/callback?token=${'x'.repeat(500)}`,
    ]) {
      const r = await t.client().get(url);
      assert.ok(r.statusCode >= 400 && r.statusCode < 500, `${url} → ${r.statusCode}`);
    }
  });
});
