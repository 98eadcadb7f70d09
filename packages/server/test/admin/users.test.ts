import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { after, before, describe, it } from 'node:test';
import {
  type Client,
  DEFAULT_PASSWORD,
  lastMailTo,
  linkIn,
  PUBLIC_URL,
  readOutbox,
  type TestServer,
  testServer,
  tokenFrom,
  uniqueEmail,
} from '../helpers/harness.js';
import { form, tokensFor } from '../oauth/helpers.js';
import { bearer, mintPat } from '../tokens/helpers.js';

const ADMIN_TOKEN = 'admin-users-break-glass-0123456789abcdef';
const API = `${PUBLIC_URL}/api`;
let t: TestServer;
let admin: Client;
let adminId: string;
before(async () => {
  t = await testServer({ env: { ADMIN_TOKEN } });
  admin = t.client();
  const { user } = await admin.signup({ name: 'Operator' });
  adminId = user.id;
  await t.deps.db.updateTable('users').set({ instance_admin: true }).where('id', '=', user.id).execute();
});
after(() => t.close());

function problem(res: LightMyRequestResponse, status: number, code: string) {
  assert.equal(res.statusCode, status, res.body);
  assert.equal(res.json().code, code, res.body);
}

const NOBODY = '00000000-0000-4000-8000-000000000000';

describe('instance admin: users', () => {
  it('refuses a non-admin (403), an admin’s personal token (403) and no credential (401)', async () => {
    const c = t.client();
    const { user } = await c.signup();
    for (const [method, url] of [
      ['GET', '/api/v1/admin/users'],
      ['GET', `/api/v1/admin/users/${adminId}`],
      ['POST', `/api/v1/admin/users/${adminId}/disable`],
      ['POST', `/api/v1/admin/users/${adminId}/enable`],
      ['POST', `/api/v1/admin/users/${adminId}/password-reset`],
      ['DELETE', `/api/v1/admin/users/${adminId}`],
    ] as const) {
      problem(await c.req({ method, url }), 403, 'forbidden');
      problem(await t.client().req({ method, url }), 401, 'unauthorized');
    }
    const pat = await mintPat(admin);
    problem(await bearer(t, pat.token, { url: '/api/v1/admin/users' }), 403, 'credential_not_accepted');
    // Nothing changed for the admin.
    assert.equal((await admin.get('/api/v1/me')).statusCode, 200);
    assert.equal((await c.get('/api/v1/me')).json().user.id, user.id);
  });

  it('answers 404 for an account that does not exist, on every action', async () => {
    for (const [method, url] of [
      ['GET', `/api/v1/admin/users/${NOBODY}`],
      ['POST', `/api/v1/admin/users/${NOBODY}/disable`],
      ['POST', `/api/v1/admin/users/${NOBODY}/enable`],
      ['POST', `/api/v1/admin/users/${NOBODY}/password-reset`],
      ['DELETE', `/api/v1/admin/users/${NOBODY}`],
    ] as const)
      problem(await admin.req({ method, url }), 404, 'not_found');
    problem(await admin.get('/api/v1/admin/users/not-a-uuid'), 400, 'invalid_request');
  });

  it('searches by email or name, paginated, and shows one account’s orgs, sessions, factors and last sign-in', async () => {
    const tag = `zq${Date.now().toString(36)}`;
    const people = [];
    for (const n of [1, 2, 3]) people.push(await t.client().signup({ email: uniqueEmail(`${tag}-${n}`) }));
    const named = await t.client().signup({ name: `Ada ${tag}` });
    const first = await admin.get(`/api/v1/admin/users?q=${tag.toUpperCase()}&limit=2`);
    assert.equal(first.statusCode, 200, first.body);
    assert.equal(first.json().data.length, 2);
    const rest = await admin.get(
      `/api/v1/admin/users?q=${tag}&limit=2&cursor=${encodeURIComponent(first.json().next_cursor)}`,
    );
    const ids = [...first.json().data, ...rest.json().data].map((u: { id: string }) => u.id).sort();
    assert.deepEqual(ids, [...people.map((p) => p.user.id), named.user.id].sort());
    // `%` and `_` are text, not wildcards.
    assert.equal((await admin.get('/api/v1/admin/users?q=%25')).json().data.length, 0);

    const d = await admin.get(`/api/v1/admin/users/${named.user.id}`);
    assert.equal(d.statusCode, 200, d.body);
    const body = d.json();
    assert.equal(body.email, named.user.email);
    assert.equal(body.orgs[0].id, named.org.id);
    assert.equal(body.orgs[0].role, 'owner');
    assert.ok(body.sessions.length >= 1);
    assert.ok(body.last_sign_in_at);
    assert.deepEqual(body.factors, { totp: false, passkeys: 0, recovery_codes: 0 });
    assert.doesNotMatch(d.body, /password_hash|token_hash/);
    // Break-glass ADMIN_TOKEN acts as an instance admin.
    assert.equal((await bearer(t, ADMIN_TOKEN, { url: '/api/v1/admin/users?limit=1' })).statusCode, 200);
  });

  it('disable: the person’s session, personal token and OAuth tokens are all refused; re-enable restores the tokens', async () => {
    const c = t.client();
    const { user, org } = await c.signup();
    const pat = await mintPat(c);
    const { tokens, client } = await tokensFor(t, c, {
      resource: API,
      scope: 'org:read',
      tick: ['org:read'],
      org: org.id,
    });
    assert.ok(tokens.refresh_token);
    assert.equal((await bearer(t, tokens.access_token, { url: '/api/v1/org' })).statusCode, 200);

    const res = await admin.post(`/api/v1/admin/users/${user.id}/disable`);
    assert.equal(res.statusCode, 200, res.body);
    assert.ok(res.json().disabled_at);
    assert.equal(res.json().sessions.length, 0, 'signed out everywhere');

    assert.equal((await c.get('/api/v1/me')).statusCode, 401, 'session refused');
    assert.equal((await bearer(t, pat.token, { url: '/api/v1/me' })).statusCode, 401, 'PAT refused');
    assert.equal(
      (await bearer(t, tokens.access_token, { url: '/api/v1/org' })).statusCode,
      401,
      'OAuth token refused',
    );
    const refreshed = await form(t, '/api/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token!,
      client_id: client.client_id,
    });
    assert.equal(refreshed.statusCode, 400, 'no refresh while disabled');
    assert.equal(refreshed.json().error, 'invalid_grant');
    // A new sign-in is refused, saying why, and opens no session.
    const again = t.client();
    problem(
      await again.post('/api/auth/signin', { email: user.email, password: DEFAULT_PASSWORD }),
      403,
      'account_disabled',
    );
    assert.equal((await again.get('/api/v1/me')).statusCode, 401);
    // A wrong password still answers as for anyone: the refusal says nothing before the password is proven.
    problem(
      await t.client().post('/api/auth/signin', { email: user.email, password: 'not the password at all' }),
      401,
      'invalid_credentials',
    );
    // No reset link is mailed to a disabled account.
    await t.client().post('/api/auth/password-reset', { email: user.email });
    const resets = (await readOutbox(t.outboxDir)).filter(
      (m) => m.to === user.email && m.subject === 'Reset your Latchkey password',
    );
    assert.equal(resets.length, 0);

    const back = await admin.post(`/api/v1/admin/users/${user.id}/enable`);
    assert.equal(back.statusCode, 200, back.body);
    assert.equal(back.json().disabled_at, null);
    assert.equal((await bearer(t, pat.token, { url: '/api/v1/me' })).statusCode, 200, 'the PAT works again');
    assert.equal((await c.get('/api/v1/me')).statusCode, 401, 'ended sessions stay ended');
    const fresh = t.client();
    assert.equal(
      (await fresh.post('/api/auth/signin', { email: user.email, password: DEFAULT_PASSWORD })).statusCode,
      200,
    );
    const log = await fresh.get('/api/v1/me/activity');
    assert.equal(log.statusCode, 200, log.body);
    const actions = log.json().data.map((e: { action: string }) => e.action);
    assert.ok(actions.includes('user.disabled') && actions.includes('user.enabled'), actions.join());
    const instance = await t.deps.db
      .selectFrom('audit_events')
      .select(['action', 'actor', 'org_id'])
      .where('target', '=', `user:${user.id}`)
      .where('action', 'in', ['user.disabled', 'user.enabled'])
      .execute();
    assert.ok(instance.every((e) => e.org_id === null && e.actor === `user:${adminId}`));
  });

  it('an admin cannot disable, reset or delete their own account here', async () => {
    problem(await admin.post(`/api/v1/admin/users/${adminId}/disable`), 409, 'conflict');
    problem(await admin.post(`/api/v1/admin/users/${adminId}/password-reset`), 409, 'conflict');
    problem(await admin.delete(`/api/v1/admin/users/${adminId}`), 409, 'conflict');
    assert.equal((await admin.get('/api/v1/me')).statusCode, 200);
  });

  it('forces a password reset: the password and sessions end, and a reset link is mailed', async () => {
    const c = t.client();
    const { user } = await c.signup();
    const res = await admin.post(`/api/v1/admin/users/${user.id}/password-reset`);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().email_sent, true);
    assert.equal((await c.get('/api/v1/me')).statusCode, 401);
    const old = await t.client().post('/api/auth/signin', { email: user.email, password: DEFAULT_PASSWORD });
    assert.equal(old.statusCode, 401);
    const link = linkIn((await lastMailTo(t.outboxDir, user.email)).text, `${PUBLIC_URL}/reset-password`);
    const page = await t.client().get(link.slice(PUBLIC_URL.length));
    assert.equal(page.statusCode, 200);
    assert.ok(tokenFrom(link));
  });

  it('deletes an account, refusing while it is the last owner of an org with other members', async () => {
    const owner = t.client();
    const { user, org } = await owner.signup();
    const email = uniqueEmail('member');
    await owner.post('/api/v1/org/invitations', { email, role: 'member' }, org.id);
    const token = tokenFrom(linkIn((await lastMailTo(t.outboxDir, email)).text, `${PUBLIC_URL}/invite`));
    const m = t.client();
    await m.signup({ email });
    assert.equal((await m.post('/api/v1/invitations/accept', { token })).statusCode, 200);

    const refused = await admin.delete(`/api/v1/admin/users/${user.id}`);
    problem(refused, 409, 'last_owner');
    assert.match(refused.json().detail, new RegExp(org.slug));
    const gone = await admin.delete(`/api/v1/admin/users/${(await m.get('/api/v1/me')).json().user.id}`);
    assert.equal(gone.statusCode, 204, gone.body);
    assert.equal((await m.get('/api/v1/me')).statusCode, 401);
    assert.equal((await admin.delete(`/api/v1/admin/users/${user.id}`)).statusCode, 204);
    assert.equal((await owner.get('/api/v1/me')).statusCode, 401);
    problem(await admin.get(`/api/v1/admin/users/${user.id}`), 404, 'not_found');
  });
});
