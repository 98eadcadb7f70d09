import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  followLink,
  lastMailTo,
  linkIn,
  PUBLIC_URL,
  readOutbox,
  type TestServer,
  testServer,
  uniqueEmail,
} from '../helpers/harness.js';

let t: TestServer;
before(async () => {
  t = await testServer();
});
after(() => t.close());

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

describe('/login', () => {
  it('offers password, a sign-in link form, forgot password, SSO and create account', async () => {
    const res = await t.client().get('/login?return_to=%2Fdevice');
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /<form method="post" action="\/login"/);
    assert.match(res.body, /<form method="post" action="\/login\/link"/);
    assert.match(res.body, /Email me a sign-in link/);
    assert.match(res.body, /href="\/forgot-password\?return_to&#61;%2Fdevice"/);
    assert.match(res.body, /action="\/api\/sso\/start"/);
    assert.match(res.body, /Create account/);
    assert.doesNotMatch(res.body, /POST \/api\/auth\/magic-link/);
  });

  it('hides "Create account" when sign-ups are by invitation only', async () => {
    const s = await testServer({ env: { SIGNUP_POLICY: 'invite-only' } });
    try {
      const res = await s.client().get('/login');
      assert.equal(res.statusCode, 200);
      assert.doesNotMatch(res.body, /Create account/);
    } finally {
      await s.close();
    }
  });

  it('mails a sign-in link from the form, which signs in and returns to a safe return_to', async () => {
    const owner = t.client();
    const { user } = await owner.signup();
    const c = t.client();
    const res = await c.req({
      method: 'POST',
      url: '/login/link',
      body: new URLSearchParams({ email: user.email, return_to: '/device?user_code=ABCD-EFGH' }).toString(),
      headers: FORM,
    });
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /Check your email/);
    const ml = res.cookies.find((k) => k.name === 'lk_ml');
    assert.ok(ml, 'the link is bound to this browser');
    const link = linkIn(
      (await lastMailTo(t.outboxDir, user.email)).text,
      `${PUBLIC_URL}/api/auth/magic-link/callback`,
    );
    const done = await followLink(c, link, { cookie: `lk_ml=${ml.value}` });
    assert.equal(done.statusCode, 303);
    assert.equal(done.headers.location, '/device?user_code=ABCD-EFGH');
  });

  it('answers an unknown address the same way, and drops an off-site return_to', async () => {
    const email = uniqueEmail('nobody');
    const a = await t.client().req({
      method: 'POST',
      url: '/login/link',
      body: new URLSearchParams({ email, return_to: '//evil.example/x' }).toString(),
      headers: FORM,
    });
    assert.equal(a.statusCode, 200);
    assert.match(a.body, /Check your email/);
    assert.doesNotMatch(a.body, /evil/);
    const link = linkIn(
      (await lastMailTo(t.outboxDir, email)).text,
      `${PUBLIC_URL}/api/auth/magic-link/callback`,
    );
    assert.ok(link);
  });

  it('refuses a malformed address with 400 and sends nothing', async () => {
    const before = (await readOutbox(t.outboxDir)).length;
    const res = await t.client().req({
      method: 'POST',
      url: '/login/link',
      body: new URLSearchParams({ email: 'not-an-address' }).toString(),
      headers: FORM,
    });
    assert.equal(res.statusCode, 400);
    assert.match(res.body, /not valid/);
    assert.equal((await readOutbox(t.outboxDir)).length, before);
  });

  it('refuses a cross-site form post (CSRF)', async () => {
    const res = await t.client().req({
      method: 'POST',
      url: '/login/link',
      body: new URLSearchParams({ email: uniqueEmail() }).toString(),
      headers: { ...FORM, origin: 'https://evil.example' },
    });
    assert.equal(res.statusCode, 403);
  });
});

describe('/create-account', () => {
  it('creates the account from the form, signs in and goes on to return_to', async () => {
    const email = uniqueEmail('form');
    const c = t.client();
    const page = await c.get('/create-account?return_to=%2Fdevice');
    assert.equal(page.statusCode, 200);
    const res = await c.req({
      method: 'POST',
      url: '/create-account',
      body: new URLSearchParams({
        name: 'Form Person',
        email,
        password: 'a sturdy passphrase 42',
        return_to: '/device',
      }).toString(),
      headers: FORM,
    });
    assert.equal(res.statusCode, 303, res.body);
    assert.equal(res.headers.location, '/device');
    const me = await c.get('/api/v1/me');
    assert.equal(me.json().user.email, email);
    assert.equal(me.json().email_verified, false);
    const mail = await lastMailTo(t.outboxDir, email);
    assert.equal(mail.subject, 'Confirm your email address for Latchkey');
  });

  it('refuses a breached password and a taken address, and says why', async () => {
    const { user } = await t.client().signup();
    for (const [email, password, status, text] of [
      [uniqueEmail('weak'), 'Basketball', 400, /breached/],
      [user.email, 'a sturdy passphrase 42', 409, /exists/],
    ] as const) {
      const res = await t.client().req({
        method: 'POST',
        url: '/create-account',
        body: new URLSearchParams({ name: 'X', email, password }).toString(),
        headers: FORM,
      });
      assert.equal(res.statusCode, status);
      assert.match(res.body, text);
    }
  });

  it('is closed when sign-ups are by invitation only', async () => {
    const s = await testServer({ env: { SIGNUP_POLICY: 'invite-only' } });
    try {
      assert.equal((await s.client().get('/create-account')).statusCode, 403);
      const res = await s.client().req({
        method: 'POST',
        url: '/create-account',
        body: new URLSearchParams({
          name: 'X',
          email: uniqueEmail(),
          password: 'a sturdy passphrase 42',
        }).toString(),
        headers: FORM,
      });
      assert.equal(res.statusCode, 403);
    } finally {
      await s.close();
    }
  });
});
