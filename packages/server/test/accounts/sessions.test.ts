import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DAY, manualClock } from '../../src/lib/clock.js';
import { sha256Hex } from '../../src/lib/secrets.js';
import { DEFAULT_PASSWORD, type TestServer, testServer } from '../helpers/harness.js';

const clock = manualClock(new Date());
let t: TestServer;
before(async () => {
  t = await testServer({ clock });
});
after(() => t.close());

describe('sessions', () => {
  it('stores only a hash of the session id', async () => {
    const c = t.client();
    const { user } = await c.signup();
    const rows = await t.deps.db
      .selectFrom('sessions')
      .select('token_hash')
      .where('user_id', '=', user.id)
      .execute();
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.token_hash, sha256Hex(c.cookie!));
    assert.notEqual(rows[0]!.token_hash, c.cookie);
  });

  it('GET /api/auth/session describes the current session; no cookie → 401', async () => {
    const c = t.client();
    const { user } = await c.signup();
    const res = await c.get('/api/auth/session');
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().user.id, user.id);
    const anon = await t.client().get('/api/auth/session');
    assert.equal(anon.statusCode, 401);
    assert.equal(anon.json().code, 'unauthorized');
  });

  it('lists my sessions and revokes one of them server-side', async () => {
    const laptop = t.client();
    const { user } = await laptop.signup();
    const phone = t.client();
    await phone.post('/api/auth/signin', { email: user.email, password: DEFAULT_PASSWORD });
    const list = await laptop.get('/api/auth/sessions');
    assert.equal(list.statusCode, 200);
    const sessions = list.json().data as { id: string; current: boolean }[];
    assert.equal(sessions.length, 2);
    assert.equal(sessions.filter((s) => s.current).length, 1);
    const other = sessions.find((s) => !s.current)!;
    assert.equal((await laptop.delete(`/api/auth/sessions/${other.id}`)).statusCode, 204);
    assert.equal((await phone.get('/api/v1/me')).statusCode, 401);
    assert.equal((await laptop.get('/api/v1/me')).statusCode, 200);
    assert.equal((await laptop.delete(`/api/auth/sessions/${other.id}`)).statusCode, 404);
  });

  it('cannot revoke another person’s session', async () => {
    const a = t.client();
    await a.signup();
    const b = t.client();
    await b.signup();
    const bSession = (await b.get('/api/auth/sessions')).json().data[0].id;
    assert.equal((await a.delete(`/api/auth/sessions/${bSession}`)).statusCode, 404);
    assert.equal((await b.get('/api/v1/me')).statusCode, 200);
  });

  it('signs out: the cookie is cleared and the session is dead even if replayed', async () => {
    const c = t.client();
    await c.signup();
    const cookie = c.cookie!;
    const res = await c.post('/api/auth/signout');
    assert.equal(res.statusCode, 204);
    assert.equal(c.cookie, null);
    const replay = await t.client().req({ url: '/api/v1/me', headers: { cookie: `lk_session=${cookie}` } });
    assert.equal(replay.statusCode, 401);
  });

  it('expires sessions after 30 days', async () => {
    const c = t.client();
    await c.signup();
    clock.advance(30 * DAY + 1000);
    assert.equal((await c.get('/api/v1/me')).statusCode, 401);
  });

  it('sets Secure on the cookie when PUBLIC_URL is https', async () => {
    const s = await testServer({ storage: t.storage, env: { PUBLIC_URL: 'https://auth.example.com' } });
    try {
      const res = await s.app.inject({
        method: 'POST',
        url: '/api/auth/signup',
        headers: { origin: 'https://auth.example.com' },
        remoteAddress: '10.200.0.1',
        payload: { email: `secure-${Date.now()}@example.com`, password: DEFAULT_PASSWORD, name: 'S' },
      });
      assert.equal(res.statusCode, 201);
      assert.match(res.headers['set-cookie'] as string, /; Secure/);
    } finally {
      await s.close();
    }
  });
});

describe('password change', () => {
  it('needs the current password, revokes every session and issues a new one', async () => {
    const a = t.client();
    const { user } = await a.signup();
    const b = t.client();
    await b.post('/api/auth/signin', { email: user.email, password: DEFAULT_PASSWORD });
    const wrong = await a.post('/api/auth/password', {
      current_password: 'not my password',
      new_password: 'a brand new passphrase',
    });
    assert.equal(wrong.statusCode, 401);
    const weak = await a.post('/api/auth/password', {
      current_password: DEFAULT_PASSWORD,
      new_password: 'short',
    });
    assert.equal(weak.statusCode, 400);
    assert.equal(weak.json().code, 'weak_password');
    const old = a.cookie;
    const ok = await a.post('/api/auth/password', {
      current_password: DEFAULT_PASSWORD,
      new_password: 'a brand new passphrase',
    });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json().revoked_sessions, 2);
    assert.notEqual(a.cookie, old);
    assert.equal((await a.get('/api/v1/me')).statusCode, 200);
    assert.equal((await b.get('/api/v1/me')).statusCode, 401);
    const signin = await t
      .client()
      .post('/api/auth/signin', { email: user.email, password: 'a brand new passphrase' });
    assert.equal(signin.statusCode, 200);
    const oldPw = await t
      .client()
      .post('/api/auth/signin', { email: user.email, password: DEFAULT_PASSWORD });
    assert.equal(oldPw.statusCode, 401);
  });
});
