import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ACCOUNT_LIMITS } from '../../src/accounts/limits.js';
import { DEFAULT_PASSWORD, type TestServer, testServer, uniqueEmail } from '../helpers/harness.js';
import { ROLE_PERMISSIONS } from '../../src/orgs/roles.js';

let t: TestServer;
before(async () => {
  t = await testServer();
});
after(() => t.close());

describe('POST /api/auth/signup', () => {
  it('creates the user, a personal org they own and a session', async () => {
    const c = t.client();
    const email = uniqueEmail();
    const res = await c.post('/api/auth/signup', {
      email: `  ${email.toUpperCase()} `,
      password: DEFAULT_PASSWORD,
      name: 'Ada',
    });
    assert.equal(res.statusCode, 201);
    const body = res.json();
    assert.equal(body.user.email, email);
    assert.equal(body.org.role, 'owner');
    const cookie = res.headers['set-cookie'] as string;
    assert.match(cookie, /lk_session=[^;]+; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Lax/);
    assert.doesNotMatch(cookie, /Secure/, 'no Secure flag on an http PUBLIC_URL');
    const me = await c.get('/api/v1/me');
    assert.equal(me.statusCode, 200);
    assert.deepEqual(me.json().orgs, [
      {
        id: body.org.id,
        slug: body.org.slug,
        name: body.org.name,
        role: 'owner',
        permissions: [...ROLE_PERMISSIONS.owner],
      },
    ]);
    assert.equal(me.json().org.id, body.org.id);
    assert.deepEqual(me.json().credential, { kind: 'session' });
    assert.equal(me.json().email_verified, false, 'a password sign-up has not proven its address yet');
  });

  it('refuses a duplicate email, whatever its case, with 409', async () => {
    const email = uniqueEmail();
    await t.client().signup({ email });
    const res = await t
      .client()
      .post('/api/auth/signup', { email: email.toUpperCase(), password: DEFAULT_PASSWORD, name: 'B' });
    assert.equal(res.statusCode, 409);
    assert.equal(res.json().code, 'email_taken');
    assert.match(res.headers['content-type'] as string, /application\/problem\+json/);
  });

  it('refuses short and common passwords', async () => {
    for (const [password, reason] of [
      ['short', 'too_short'],
      ['password123', 'common'],
      ['QWERTYUIOP', 'common'],
    ]) {
      const res = await t.client().post('/api/auth/signup', { email: uniqueEmail(), password, name: 'X' });
      assert.equal(res.statusCode, 400, password);
      assert.equal(res.json().code, 'weak_password');
      assert.equal(res.json().reason, reason);
    }
  });

  it('refuses bad emails, unknown fields and wrong types with 400 and creates nothing', async () => {
    const before = await t.deps.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    for (const body of [
      { email: 'not-an-email', password: DEFAULT_PASSWORD, name: 'X' },
      { email: uniqueEmail(), password: DEFAULT_PASSWORD, name: 'X', admin: true },
      { email: uniqueEmail(), password: 1234567890123, name: 'X' },
      { email: uniqueEmail(), password: DEFAULT_PASSWORD },
      { email: uniqueEmail(), password: DEFAULT_PASSWORD, name: '   ' },
    ]) {
      const res = await t.client().post('/api/auth/signup', body);
      assert.equal(res.statusCode, 400, JSON.stringify(body));
    }
    const afterCount = await t.deps.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    assert.equal(Number(afterCount.n), Number(before.n));
  });
});

describe('POST /api/auth/signin', () => {
  it('signs in with the right password and rotates the session', async () => {
    const c = t.client();
    const { user } = await c.signup();
    const first = c.cookie;
    const res = await c.post('/api/auth/signin', { email: user.email, password: DEFAULT_PASSWORD });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().user.id, user.id);
    assert.notEqual(c.cookie, first);
    // The session held before signing in again is over.
    const old = await t.client().req({ url: '/api/v1/me', headers: { cookie: `lk_session=${first}` } });
    assert.equal(old.statusCode, 401);
  });

  it('answers a wrong password and an unknown email identically', async () => {
    const { user } = await t.client().signup();
    const wrongPw = await t
      .client()
      .post('/api/auth/signin', { email: user.email, password: 'not the password!' });
    const noUser = await t
      .client()
      .post('/api/auth/signin', { email: uniqueEmail('ghost'), password: 'not the password!' });
    assert.equal(wrongPw.statusCode, 401);
    assert.equal(noUser.statusCode, 401);
    assert.equal(wrongPw.body, noUser.body);
    assert.equal(wrongPw.headers['set-cookie'], undefined);
  });

  it('throttles repeated failures against one account with 429 and Retry-After, even with the right password, from a browser it does not know', async () => {
    const { user } = await t.client().signup();
    for (let i = 0; i < ACCOUNT_LIMITS.signinFailuresPerAccount.points; i++) {
      const r = await t
        .client()
        .post('/api/auth/signin', { email: user.email, password: 'wrong password here' });
      assert.equal(r.statusCode, 401);
    }
    const blocked = await t
      .client()
      .post('/api/auth/signin', { email: user.email, password: DEFAULT_PASSWORD });
    assert.equal(blocked.statusCode, 429);
    assert.equal(blocked.json().code, 'rate_limited');
    assert.ok(Number(blocked.headers['retry-after']) > 0);
  });

  it('throttles repeated failures from one IP', async () => {
    const c = t.client();
    let last = 0;
    for (let i = 0; i < 21; i++) {
      last = (
        await c.post('/api/auth/signin', { email: uniqueEmail('spray'), password: 'wrong password here' })
      ).statusCode;
    }
    assert.equal(last, 429);
  });

  it('audits successes and failures', async () => {
    const c = t.client();
    const { user } = await c.signup();
    await t.client().post('/api/auth/signin', { email: user.email, password: 'wrong password here' });
    await t.client().post('/api/auth/signin', { email: user.email, password: DEFAULT_PASSWORD });
    const rows = await t.deps.db
      .selectFrom('audit_events')
      .select(['action', 'actor', 'ip'])
      .where('target', '=', `user:${user.id}`)
      .orderBy('created_at')
      .execute();
    const actions = rows.map((r) => r.action);
    assert.ok(actions.includes('user.signup'));
    assert.ok(actions.includes('user.signin_failed'));
    assert.ok(actions.includes('user.signin'));
  });
});
