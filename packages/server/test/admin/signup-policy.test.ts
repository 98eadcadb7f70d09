import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type Client,
  DEFAULT_PASSWORD,
  lastMailTo,
  linkIn,
  PUBLIC_URL,
  type TestServer,
  testServer,
  tokenFrom,
  uniqueEmail,
} from '../helpers/harness.js';
import { assertProblem } from '../orgs/helpers.js';
import { firstOwner, postForm, setPolicy } from '../accounts/signup-policy/helpers.js';

// Operators: the first owner /setup makes is an instance admin; only instance admins read and
// change the sign-up policy and decide the waitlist.

const ADMIN_TOKEN = 'break-glass-token-for-tests-0123456789';
let t: TestServer;
let admin: Client;
let person: Client;

before(async () => {
  t = await testServer({ env: { SIGNUP_POLICY: 'invite-only', ADMIN_TOKEN } });
  admin = (await firstOwner(t)).client;
  // An ordinary person (an org owner, but not an operator) needs the policy open to sign up.
  await setPolicy(admin, 'open');
  person = t.client();
  await person.signup();
});
after(() => t.close());

describe('the sign-up policy setting', () => {
  it('starts as SIGNUP_POLICY says and /setup works under it; the admin reads and changes it, audited', async () => {
    await setPolicy(admin, 'waitlist');
    const res = await admin.get('/api/v1/admin/signup-policy');
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().policy, 'waitlist');
    assert.match(res.json().updated_by, /^user:/);
    const changes = await t.deps.db
      .selectFrom('audit_events')
      .select(['data'])
      .where('action', '=', 'signup_policy.changed')
      .orderBy('id')
      .execute();
    assert.deepEqual(
      changes.map((c) => c.data),
      [
        { from: 'invite-only', to: 'open' },
        { from: 'open', to: 'waitlist' },
      ],
    );
    await setPolicy(admin, 'open');
  });

  it('refuses everyone else: people who are not operators, scoped tokens, anonymous callers', async () => {
    assertProblem(await person.get('/api/v1/admin/signup-policy'), 403, 'forbidden');
    assertProblem(
      await person.req({ method: 'PUT', url: '/api/v1/admin/signup-policy', body: { policy: 'waitlist' } }),
      403,
      'forbidden',
    );
    assertProblem(await t.client().get('/api/v1/admin/signup-policy'), 401, 'unauthorized');
    // The operator proves their address (the setup link does not), so they may mint tokens at all.
    const adminId = (await admin.get('/api/v1/me')).json().user.id as string;
    await t.deps.db
      .updateTable('users')
      .set({ email_verified_at: new Date() })
      .where('id', '=', adminId)
      .execute();
    await t.deps.auth.changed({ user: adminId });
    const scoped = await admin.post('/api/v1/tokens', { name: 'scoped', scopes: ['org:read'] });
    assert.equal(scoped.statusCode, 201, scoped.body);
    const bearer = (token: string) =>
      t.client().req({ url: '/api/v1/admin/waitlist', headers: { authorization: `Bearer ${token}` } });
    // Operator routes take a browser session or the break-glass token, never an API token.
    assertProblem(await bearer(scoped.json().token), 403, 'credential_not_accepted');
    const full = await admin.post('/api/v1/tokens', { name: 'full', scopes: ['account:write', 'org:read'] });
    assert.equal(full.statusCode, 201, full.body);
    assertProblem(await bearer(full.json().token), 403, 'credential_not_accepted');
    assert.equal((await bearer(ADMIN_TOKEN)).statusCode, 200, 'break-glass');
    assert.equal((await admin.get('/api/v1/admin/signup-policy')).json().policy, 'open');
  });

  it('refuses a policy it does not know with 400', async () => {
    for (const policy of ['closed', '', 'OPEN', 1]) {
      const res = await admin.req({ method: 'PUT', url: '/api/v1/admin/signup-policy', body: { policy } });
      assertProblem(res, 400, 'invalid_request', String(policy));
    }
  });

  it('a restart with another SIGNUP_POLICY keeps the one an admin set', async () => {
    await setPolicy(admin, 'waitlist');
    const again = await testServer({ storage: t.storage, env: { SIGNUP_POLICY: 'open' } });
    try {
      assert.equal((await again.client().post('/api/auth/signup', signupBody())).statusCode, 202);
    } finally {
      await again.close();
      await setPolicy(admin, 'open');
    }
  });
});

function signupBody(email = uniqueEmail('asker')) {
  return { email, password: DEFAULT_PASSWORD, name: 'Asker' };
}

describe('/api/v1/admin/waitlist', () => {
  it('lists requests newest first, by status, a page at a time', async () => {
    await setPolicy(admin, 'waitlist');
    const emails = [uniqueEmail('w1'), uniqueEmail('w2'), uniqueEmail('w3')];
    for (const email of emails) {
      const res = await t.client().post('/api/auth/signup', signupBody(email));
      assert.equal(res.statusCode, 202);
      assert.deepEqual(Object.keys(res.json()).sort(), ['detail', 'status']);
      assert.equal(res.json().status, 'waitlisted');
    }
    // Asking twice keeps one request.
    assert.equal((await t.client().post('/api/auth/signup', signupBody(emails[0]))).statusCode, 202);
    const first = (await admin.get('/api/v1/admin/waitlist?status=pending&limit=2')).json();
    assert.equal(first.data.length, 2);
    assert.deepEqual(
      first.data.map((e: { email: string }) => e.email),
      [emails[2], emails[1]],
    );
    assert.equal(first.data[0].via, 'password');
    assert.equal(first.data[0].name, 'Asker');
    const rest = (
      await admin.get(`/api/v1/admin/waitlist?status=pending&limit=2&cursor=${first.next_cursor}`)
    ).json();
    // …then the older ones (an earlier test's request among them).
    assert.equal(rest.data[0].email, emails[0]);
    assert.equal(rest.data.length, 2);
    assert.equal(rest.next_cursor, null);
    assertProblem(await admin.get('/api/v1/admin/waitlist?status=maybe'), 400, 'invalid_request');
    assertProblem(await person.get('/api/v1/admin/waitlist'), 403, 'forbidden');
  });

  it('approve mails a single-use link that creates the account; deny stops an approval; a joined request is final', async () => {
    await setPolicy(admin, 'waitlist');
    const email = uniqueEmail('approved');
    await t.client().post('/api/auth/signup', signupBody(email));
    const entry = (await admin.get('/api/v1/admin/waitlist?status=pending'))
      .json()
      .data.find((e: { email: string }) => e.email === email);
    const approved = await admin.post(`/api/v1/admin/waitlist/${entry.id}/approve`);
    assert.equal(approved.statusCode, 200, approved.body);
    assert.equal(approved.json().status, 'approved');
    assert.equal(approved.json().email_sent, true);
    const first = linkIn((await lastMailTo(t.outboxDir, email)).text, `${PUBLIC_URL}/signup`);

    // Denying takes the approval back: its link stops working. Approving again sends a new one.
    assert.equal((await admin.post(`/api/v1/admin/waitlist/${entry.id}/deny`)).json().status, 'denied');
    assert.equal((await t.client().get(first.slice(PUBLIC_URL.length))).statusCode, 404);
    await admin.post(`/api/v1/admin/waitlist/${entry.id}/approve`);
    const link = linkIn((await lastMailTo(t.outboxDir, email)).text, `${PUBLIC_URL}/signup`);
    assert.notEqual(link, first);

    const c = t.client();
    const page = await c.get(link.slice(PUBLIC_URL.length));
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /Create the account for <strong>/);
    const token = tokenFrom(link);
    const done = await postForm(c, '/signup', { token, name: 'Approved Person', password: DEFAULT_PASSWORD });
    assert.equal(done.statusCode, 303, done.body);
    const me = (await c.get('/api/v1/me')).json();
    assert.equal(me.user.email, email);
    assert.equal(me.orgs.length, 1);
    const signup = await t.deps.db
      .selectFrom('audit_events')
      .select('data')
      .where('action', '=', 'user.signup')
      .where('target', '=', `user:${me.user.id}`)
      .executeTakeFirstOrThrow();
    assert.deepEqual(signup.data, { via: 'waitlist', admitted: 'approval' });

    // Single use, and final.
    assert.equal(
      (await postForm(t.client(), '/signup', { token, name: 'X', password: DEFAULT_PASSWORD })).statusCode,
      400,
    );
    const listed = (await admin.get('/api/v1/admin/waitlist?status=approved'))
      .json()
      .data.find((e: { id: string }) => e.id === entry.id);
    assert.ok(listed.joined_at);
    assertProblem(await admin.post(`/api/v1/admin/waitlist/${entry.id}/deny`), 409, 'conflict');
    assertProblem(
      await admin.post(`/api/v1/admin/waitlist/${crypto.randomUUID()}/approve`),
      404,
      'not_found',
    );
    assertProblem(await person.post(`/api/v1/admin/waitlist/${entry.id}/approve`), 403, 'forbidden');
  });
});
