import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MINUTE, manualClock } from '../../src/lib/clock.js';
import {
  followLink,
  formOf,
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
    const res = await followLink(c, link);
    assert.equal(res.statusCode, 303);
    assert.equal(res.headers.location, '/');
    const me = await c.get('/api/v1/me');
    assert.equal(me.json().user.id, user.id);
    const again = await followLink(t.client(), link);
    assert.equal(again.statusCode, 400);
    assert.equal(again.headers['set-cookie'], undefined);
    const replay = await t
      .client()
      .post('/api/auth/magic-link/callback', { token: tokenFrom(link), confirm: 'yes' });
    assert.equal(replay.statusCode, 400, 'a used link is used up for the POST too');
  });

  it('creates the account (with a personal org) when none exists', async () => {
    const email = uniqueEmail('new');
    const link = await requestLink(email);
    const c = t.client();
    const res = await followLink(c, link);
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
    const res = await followLink(t.client(), link);
    assert.equal(res.statusCode, 400);
    const post = await t
      .client()
      .post('/api/auth/magic-link/callback', { token: tokenFrom(link), confirm: 'yes' });
    assert.equal(post.statusCode, 400);
  });

  it('redirects to a same-origin return_to and refuses open redirects', async () => {
    const email = uniqueEmail('ret');
    const link = await requestLink(email, { return_to: '/app/settings?tab=tokens' });
    const res = await followLink(t.client(), link);
    assert.equal(res.headers.location, '/app/settings?tab=tokens');
    for (const bad of [
      'https://evil.example/',
      '//evil.example/x',
      '/\\evil.example',
      'javascript:alert(1)',
      '/%0d%0aSet-Cookie:x=y'.replace('%0d%0a', '\r\n'),
      '/.//evil.example/x',
      '/x/..//evil.example',
      '/%2e//evil.example',
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

  it('the GET only shows a page: a mail scanner fetching the link uses nothing up', async () => {
    const email = uniqueEmail('scanned');
    const link = await requestLink(email);
    const url = link.slice(PUBLIC_URL.length);
    for (let i = 0; i < 3; i++) {
      const scan = await t.client().get(url);
      assert.equal(scan.statusCode, 200);
      assert.equal(scan.headers['set-cookie'], undefined, 'no session from a GET');
      assert.match(String(scan.headers['content-type']), /^text\/html/);
    }
    const c = t.client();
    assert.equal((await followLink(c, link)).statusCode, 303, 'the link still works after the scans');
    assert.equal((await c.get('/api/v1/me')).json().user.email, email);
  });

  describe('login CSRF: a link opened in a browser that did not ask for it (issue 15 row 8)', () => {
    /** Asks for a link from a browser that keeps the binding cookie; returns the link and cookie. */
    async function askFromBrowser(email: string) {
      const res = await t.client().post('/api/auth/magic-link', { email });
      assert.equal(res.statusCode, 202);
      const bind = res.cookies.find((k) => k.name === 'lk_ml');
      assert.ok(bind, 'the asking browser gets a binding cookie');
      assert.equal(bind.httpOnly, true);
      const link = linkIn(
        (await lastMailTo(t.outboxDir, email)).text,
        `${PUBLIC_URL}/api/auth/magic-link/callback`,
      );
      return { link, cookie: `lk_ml=${bind.value}` };
    }

    it("the attacker's own link planted in the victim's browser asks, naming the account, before it signs in", async () => {
      const attacker = uniqueEmail('attacker');
      await t.client().signup({ email: attacker });
      const { link } = await askFromBrowser(attacker);
      const victim = t.client();
      const page = await victim.get(link.slice(PUBLIC_URL.length));
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /Sign in from this browser\?/);
      assert.ok(page.body.includes(`${attacker[0]}***@example.com`), 'the masked address is shown');
      assert.ok(!page.body.includes(attacker), 'the full address is not');
      assert.deepEqual(formOf(page.body).fields, { token: tokenFrom(link), confirm: 'yes' });
      // A POST without the confirmation (e.g. an auto-submitted form) only asks again.
      const silent = await victim.post('/api/auth/magic-link/callback', { token: tokenFrom(link) });
      assert.equal(silent.statusCode, 200);
      assert.match(silent.body, /Sign in from this browser\?/);
      assert.equal(victim.cookie, null, 'not signed in');
      // Another site cannot press the button for the victim.
      const forged = await victim.req({
        method: 'POST',
        url: '/api/auth/magic-link/callback',
        body: { token: tokenFrom(link), confirm: 'yes' },
        headers: { origin: 'https://evil.example' },
      });
      assert.equal(forged.statusCode, 403);
      assert.equal(forged.json().code, 'csrf');
      assert.equal(victim.cookie, null);
      // The link was not used up by any of that: the asking person can still use it.
      const confirmed = await victim.post('/api/auth/magic-link/callback', {
        token: tokenFrom(link),
        confirm: 'yes',
      });
      assert.equal(confirmed.statusCode, 303, 'an explicit confirmation signs in');
    });

    it('the browser that asked signs in with one press, no question', async () => {
      const email = uniqueEmail('asker');
      const { link, cookie } = await askFromBrowser(email);
      const c = t.client();
      const page = await c.req({ url: link.slice(PUBLIC_URL.length), headers: { cookie } });
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /Sign in to Latchkey/);
      assert.deepEqual(formOf(page.body).fields, { token: tokenFrom(link) });
      const res = await followLink(c, link, { cookie });
      assert.equal(res.statusCode, 303);
      const session = res.cookies.find((k) => k.name === 'lk_session');
      assert.ok(session?.value);
      const me = await t
        .client()
        .req({ url: '/api/v1/me', headers: { cookie: `lk_session=${session.value}` } });
      assert.equal(me.json().user.email, email);
    });
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
