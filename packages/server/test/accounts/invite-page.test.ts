import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  DEFAULT_PASSWORD,
  lastMailTo,
  linkIn,
  PUBLIC_URL,
  type TestServer,
  testServer,
  tokenFrom,
  uniqueEmail,
} from '../helpers/harness.js';

let t: TestServer;
before(async () => {
  t = await testServer();
});
after(() => t.close());

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

async function invite(role = 'member') {
  const owner = t.client();
  const { org } = await owner.signup();
  const email = uniqueEmail('invitee');
  const res = await owner.post('/api/v1/org/invitations', { email, role }, org.id);
  assert.equal(res.statusCode, 201);
  const link = linkIn((await lastMailTo(t.outboxDir, email)).text, `${PUBLIC_URL}/invite`);
  return { owner, org, email, token: tokenFrom(link) };
}

function postForm(c: ReturnType<TestServer['client']>, fields: Record<string, string>) {
  return c.req({
    method: 'POST',
    url: '/invite',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form(fields),
  });
}

describe('/invite page', () => {
  it('lets a new person create their account from the link and join the org', async () => {
    const { org, email, token } = await invite('admin');
    const c = t.client();
    const page = await c.get(`/invite?token=${token}`);
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /Create account and join/);
    assert.match(page.headers['content-security-policy'] as string, /default-src 'none'/);
    const res = await postForm(c, { token, name: 'New Person', password: DEFAULT_PASSWORD });
    assert.equal(res.statusCode, 303);
    const me = (await c.get('/api/v1/me', org.id)).json();
    assert.equal(me.user.email, email);
    assert.equal(me.org.role, 'admin');
    const verified = await t.deps.db
      .selectFrom('users')
      .select('email_verified_at')
      .where('email', '=', email)
      .executeTakeFirstOrThrow();
    assert.ok(verified.email_verified_at, 'the invitation proves the address');
    assert.equal((await t.client().get(`/invite?token=${token}`)).statusCode, 404, 'single use');
  });

  it('sends an existing account to sign in on /login and back, and takes no password itself', async () => {
    const { org, email, token } = await invite();
    await t.client().signup({ email });
    const c = t.client();
    const back = `/invite?token=${token}`;
    const page = await c.get(back);
    assert.match(page.body, /Sign in to accept/);
    assert.doesNotMatch(page.body, /type="password"/);
    const posted = await postForm(c, { token, password: DEFAULT_PASSWORD });
    assert.equal(posted.statusCode, 303);
    assert.equal(posted.headers.location, `/login?return_to=${encodeURIComponent(back)}`);
    assert.equal(c.cookie, null, 'not signed in');
    const login = await c.req({
      method: 'POST',
      url: '/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form({ email, password: DEFAULT_PASSWORD, return_to: back }),
    });
    assert.equal(login.statusCode, 303);
    assert.equal(login.headers.location, back);
    assert.equal((await postForm(c, { token })).statusCode, 303);
    assert.equal((await c.get('/api/v1/me', org.id)).json().org.role, 'member');
  });

  it('accepts for the signed-in person with the invited email, refuses another person', async () => {
    const { org, email, token } = await invite();
    const other = t.client();
    await other.signup();
    assert.equal((await other.get(`/invite?token=${token}`)).statusCode, 403);
    assert.equal((await postForm(other, { token })).statusCode, 403);
    const invitee = t.client();
    await invitee.signup({ email });
    assert.equal((await postForm(invitee, { token })).statusCode, 303);
    assert.equal((await invitee.get('/api/v1/me', org.id)).json().org.role, 'member');
  });

  it('refuses a cross-site form post', async () => {
    const { token } = await invite();
    const res = await t.client().req({
      method: 'POST',
      url: '/invite',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: form({ token, name: 'X', password: DEFAULT_PASSWORD }),
    });
    assert.equal(res.statusCode, 403);
  });
});
