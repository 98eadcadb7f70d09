import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import {
  DEFAULT_PASSWORD,
  PUBLIC_URL,
  type TestServer,
  testServer,
  uniqueEmail,
} from '../helpers/harness.js';
import { fingerprint } from './state.js';

// A cookie-authenticated unsafe request whose Origin (or Sec-Fetch-Site) is not ours is refused
// with 403 `csrf` before anything runs; sign-in and sign-up are covered too (login CSRF).

let t: TestServer;
let cookie: string;
let orgId: string;
let sessionId: string;
let email: string;

before(async () => {
  t = await testServer();
  const c = t.client();
  const s = await c.signup();
  cookie = c.cookie!;
  orgId = s.org.id;
  email = s.user.email;
  sessionId = (await c.get('/api/auth/session')).json().session.id;
});
after(() => t.close());

type Method = 'POST' | 'PATCH' | 'DELETE';
interface Call {
  method: Method;
  url: string;
  body?: unknown;
}

/** Every kind of cookie-authenticated change: each would succeed from our own origin. */
const CHANGES: Call[] = [
  { method: 'POST', url: '/api/v1/orgs', body: { name: 'Forged Org' } },
  { method: 'PATCH', url: '/api/v1/org', body: { name: 'Forged Name' } },
  { method: 'PATCH', url: '/api/v1/me', body: { name: 'Forged Person' } },
  { method: 'POST', url: '/api/v1/org/invitations', body: { email: 'attacker@example.com', role: 'admin' } },
  {
    method: 'POST',
    url: '/api/auth/password',
    body: { current_password: DEFAULT_PASSWORD, new_password: 'attacker chosen passphrase' },
  },
  { method: 'POST', url: '/api/auth/signout' },
  { method: 'DELETE', url: '/api/v1/org' },
];

function send(call: Call, headers: Record<string, string>): Promise<LightMyRequestResponse> {
  return t.app.inject({
    method: call.method,
    url: call.url,
    headers: { cookie: `lk_session=${cookie}`, 'x-org-id': orgId, ...headers },
    ...(call.body !== undefined ? { payload: call.body as object } : {}),
  });
}

function assertCsrf(res: LightMyRequestResponse, what: string) {
  assert.equal(res.statusCode, 403, `${what}: ${res.body}`);
  assert.equal(res.json().code, 'csrf', what);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  assert.equal(res.headers['set-cookie'], undefined, `${what} set a cookie`);
}

describe('CSRF: cross-site changes with a session cookie are refused and change nothing', () => {
  const hostile: [string, Record<string, string>][] = [
    ['Origin of another site', { origin: 'https://evil.example' }],
    ['Origin of our host on another port', { origin: 'http://localhost:8485' }],
    ['Origin of our host on another scheme', { origin: 'https://localhost:8484' }],
    ['Origin that only starts like ours', { origin: 'http://localhost:8484.evil.example' }],
    ['Origin: null (sandboxed frame, privacy redirect)', { origin: 'null' }],
    ['Sec-Fetch-Site: cross-site without Origin', { 'sec-fetch-site': 'cross-site' }],
    ['Sec-Fetch-Site: same-site without Origin (a sibling subdomain)', { 'sec-fetch-site': 'same-site' }],
    [
      'foreign Origin with Sec-Fetch-Site: same-origin',
      { origin: 'https://evil.example', 'sec-fetch-site': 'same-origin' },
    ],
  ];
  for (const [what, headers] of hostile) {
    it(`${what} → 403 csrf on every change`, async () => {
      const before0 = await fingerprint(t.storage.storage.db);
      for (const call of CHANGES) assertCsrf(await send(call, headers), `${call.method} ${call.url}`);
      assert.deepEqual(await fingerprint(t.storage.storage.db), before0);
      // The session is untouched: signout and password change were refused.
      const me = await t.app.inject({ url: '/api/v1/me', headers: { cookie: `lk_session=${cookie}` } });
      assert.equal(me.statusCode, 200);
    });
  }

  it('a cross-site GET is not refused (safe methods change nothing)', async () => {
    const res = await t.app.inject({
      url: '/api/v1/me',
      headers: {
        cookie: `lk_session=${cookie}`,
        origin: 'https://evil.example',
        'sec-fetch-site': 'cross-site',
      },
    });
    assert.equal(res.statusCode, 200);
  });

  it('a junk Authorization header does not switch the Origin check off for a cookie-authenticated change', async () => {
    const before0 = await fingerprint(t.storage.storage.db);
    const res = await send(CHANGES[0]!, {
      origin: 'https://evil.example',
      authorization: 'Bearer not-a-token',
    });
    assert.ok(res.statusCode === 403 || res.statusCode === 401, `${res.statusCode} ${res.body}`);
    assert.deepEqual(await fingerprint(t.storage.storage.db), before0);
  });
});

describe('CSRF: requests from our own origin, or from no browser at all, go through', () => {
  it('same Origin → ok', async () => {
    const res = await send(
      { method: 'POST', url: '/api/v1/orgs', body: { name: 'Same Origin Org' } },
      { origin: PUBLIC_URL },
    );
    assert.equal(res.statusCode, 201, res.body);
  });

  it('Sec-Fetch-Site: same-origin, or none (typed by the user), without Origin → ok', async () => {
    for (const site of ['same-origin', 'none']) {
      const res = await send(
        { method: 'PATCH', url: '/api/v1/me', body: { name: `Via ${site}` } },
        { 'sec-fetch-site': site },
      );
      assert.equal(res.statusCode, 200, `${site}: ${res.body}`);
    }
  });

  it('neither Origin nor Sec-Fetch-Site (curl, a script) → ok', async () => {
    const res = await send({ method: 'POST', url: '/api/v1/orgs', body: { name: 'Curl Org' } }, {});
    assert.equal(res.statusCode, 201, res.body);
  });
});

describe('login CSRF: signing in or up from another site is refused', () => {
  it('sign-in with a foreign Origin → 403, no session cookie, even with the right password', async () => {
    for (const headers of [
      { origin: 'https://evil.example' },
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
    ]) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/auth/signin',
        headers,
        payload: { email, password: DEFAULT_PASSWORD },
      });
      assertCsrf(res, JSON.stringify(headers));
    }
    const ok = await t.app.inject({
      method: 'POST',
      url: '/api/auth/signin',
      headers: { origin: PUBLIC_URL },
      payload: { email, password: DEFAULT_PASSWORD },
    });
    assert.equal(ok.statusCode, 200);
  });

  it('sign-up and magic-link requests with a foreign Origin → 403 and nothing created or sent', async () => {
    const before0 = await fingerprint(t.storage.storage.db);
    const signup = await t.app.inject({
      method: 'POST',
      url: '/api/auth/signup',
      headers: { origin: 'https://evil.example' },
      payload: { email: uniqueEmail('forged'), password: DEFAULT_PASSWORD, name: 'Forged' },
    });
    assertCsrf(signup, 'signup');
    const magic = await t.app.inject({
      method: 'POST',
      url: '/api/auth/magic-link',
      headers: { origin: 'https://evil.example' },
      payload: { email },
    });
    assertCsrf(magic, 'magic-link');
    assert.deepEqual(await fingerprint(t.storage.storage.db), before0);
  });

  it('the server-rendered forms (/setup, /invite) refuse a cross-site POST too', async () => {
    for (const url of ['/setup', '/invite']) {
      const res = await t.app.inject({
        method: 'POST',
        url,
        headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'token=x',
      });
      assert.equal(res.statusCode, 403, `${url}: ${res.body}`);
    }
  });

  it('a session revoke from another site is refused (own session id)', async () => {
    const res = await send(
      { method: 'DELETE', url: `/api/auth/sessions/${sessionId}` },
      { origin: 'https://evil.example' },
    );
    assertCsrf(res, 'DELETE session');
    const me = await t.app.inject({ url: '/api/v1/me', headers: { cookie: `lk_session=${cookie}` } });
    assert.equal(me.statusCode, 200);
  });
});
