import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HSTS_MAX_AGE_SECONDS } from '../../src/http/request.js';
import { DEFAULT_PASSWORD, type TestServer, testServer, uniqueEmail } from '../helpers/harness.js';

const HTTPS_URL = 'https://latchkey.example';

let https: TestServer;
let http: TestServer;
before(async () => {
  https = await testServer({ env: { PUBLIC_URL: HTTPS_URL } });
  http = await testServer();
});
after(async () => {
  await https.close();
  await http.close();
});

function call(
  t: TestServer,
  r: { method?: 'GET' | 'POST'; url: string; payload?: object; cookie?: string; origin?: string },
) {
  return t.app.inject({
    method: r.method ?? 'GET',
    url: r.url,
    ...(r.payload ? { payload: r.payload } : {}),
    remoteAddress: '10.123.0.1',
    headers: {
      ...(r.method === 'POST' ? { origin: r.origin ?? HTTPS_URL } : {}),
      ...(r.cookie ? { cookie: r.cookie } : {}),
    },
  });
}

describe('on an https PUBLIC_URL: HSTS and __Host- cookies', () => {
  it('every answer carries Strict-Transport-Security', async () => {
    for (const url of ['/healthz', '/login', '/api/v1/me', '/no/such/page']) {
      const res = await call(https, { url });
      assert.equal(
        res.headers['strict-transport-security'],
        `max-age=${HSTS_MAX_AGE_SECONDS}; includeSubDomains`,
        url,
      );
    }
  });

  it('the session cookie is __Host-lk_session (Secure, Path=/, no Domain) and is the only one that counts', async () => {
    const email = uniqueEmail('https');
    const signup = await call(https, {
      method: 'POST',
      url: '/api/auth/signup',
      payload: { email, password: DEFAULT_PASSWORD, name: 'H' },
    });
    assert.equal(signup.statusCode, 201, signup.body);
    const raw = String(signup.headers['set-cookie']);
    assert.match(raw, /__Host-lk_session=[^;]+; Max-Age=\d+; Path=\/; HttpOnly; Secure; SameSite=Lax/);
    assert.doesNotMatch(raw, /Domain=/i);
    const session = signup.cookies.find((c) => c.name === '__Host-lk_session')!.value;
    assert.equal(
      (await call(https, { url: '/api/v1/me', cookie: `__Host-lk_session=${session}` })).statusCode,
      200,
    );
    // A plain lk_session (one a sibling subdomain or an http page could plant) is ignored.
    const planted = await call(https, { url: '/api/v1/me', cookie: `lk_session=${session}` });
    assert.equal(planted.statusCode, 401);
    // The SDK-facing session check finds it under its https name.
    const check = await call(https, { url: '/api/auth/session', cookie: `__Host-lk_session=${session}` });
    assert.equal(check.statusCode, 200, check.body);
    // Signing in sets the device cookie under its __Host- name too.
    const signin = await call(https, {
      method: 'POST',
      url: '/api/auth/signin',
      payload: { email, password: DEFAULT_PASSWORD },
    });
    assert.equal(signin.statusCode, 200, signin.body);
    const names = signin.cookies.map((c) => c.name).sort();
    assert.deepEqual(names, ['__Host-lk_device', '__Host-lk_session']);
    for (const c of signin.cookies) {
      assert.equal(c.secure, true, c.name);
      assert.equal(c.path, '/', c.name);
      assert.equal(c.domain, undefined, c.name);
    }
    // Sign-out clears the __Host- cookie.
    const out = await call(https, {
      method: 'POST',
      url: '/api/auth/signout',
      cookie: `__Host-lk_session=${signin.cookies.find((c) => c.name === '__Host-lk_session')!.value}`,
    });
    assert.equal(out.statusCode, 204);
    assert.match(String(out.headers['set-cookie']), /__Host-lk_session=;/);
  });

  it('the magic link binds the browser with __Host-lk_ml', async () => {
    const res = await call(https, {
      method: 'POST',
      url: '/api/auth/magic-link',
      payload: { email: uniqueEmail('ml') },
    });
    assert.equal(res.statusCode, 202);
    const bind = res.cookies.find((c) => c.name === '__Host-lk_ml');
    assert.ok(bind?.value);
    assert.equal(bind.secure, true);
    assert.equal(bind.httpOnly, true);
  });
});

describe('on an http PUBLIC_URL (development): plain names, no HSTS', () => {
  it('keeps lk_session and sends no Strict-Transport-Security', async () => {
    const res = await http.app.inject({
      method: 'POST',
      url: '/api/auth/signup',
      payload: { email: uniqueEmail('http'), password: DEFAULT_PASSWORD, name: 'P' },
      headers: { origin: 'http://localhost:8484' },
    });
    assert.equal(res.statusCode, 201);
    assert.equal(res.headers['strict-transport-security'], undefined);
    assert.deepEqual(
      res.cookies.map((c) => c.name),
      ['lk_session'],
    );
  });
});
