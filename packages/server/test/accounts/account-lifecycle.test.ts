import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { after, before, describe, it } from 'node:test';
import {
  type Client,
  followLink,
  lastMailTo,
  linkIn,
  PUBLIC_URL,
  readOutbox,
  type TestServer,
  testServer,
  tokenFrom,
  uniqueEmail,
} from '../helpers/harness.js';
import { tokensFor } from '../oauth/helpers.js';
import { bearer, mintPat } from '../tokens/helpers.js';

let t: TestServer;
before(async () => {
  t = await testServer();
});
after(() => t.close());

const API = `${PUBLIC_URL}/api`;

function problem(res: LightMyRequestResponse, status: number, code: string) {
  assert.equal(res.statusCode, status, res.body);
  assert.equal(res.json().code, code, res.body);
}

async function changeLink(c: Client, email: string) {
  const res = await c.post('/api/v1/me/email', { email });
  assert.equal(res.statusCode, 202, res.body);
  const mail = await lastMailTo(t.outboxDir, email);
  assert.equal(mail.subject, 'Confirm your new email address for Latchkey');
  return linkIn(mail.text, `${PUBLIC_URL}/confirm-email`);
}

/** `owner` invites a new person to `org` as `role`; returns their signed-in client. */
async function join(owner: Client, org: string, role: string) {
  const email = uniqueEmail(role);
  const inv = await owner.post('/api/v1/org/invitations', { email, role }, org);
  assert.equal(inv.statusCode, 201, inv.body);
  const token = tokenFrom(linkIn((await lastMailTo(t.outboxDir, email)).text, `${PUBLIC_URL}/invite`));
  const c = t.client();
  const { user } = await c.signup({ email });
  assert.equal((await c.post('/api/v1/invitations/accept', { token })).statusCode, 200);
  return { c, user };
}

describe('email change', () => {
  it('needs the current browser sign-in: no credential → 401, a personal token (even account:write) → 403', async () => {
    problem(await t.client().post('/api/v1/me/email', { email: uniqueEmail() }), 401, 'unauthorized');
    const c = t.client();
    await c.signup();
    const pat = await mintPat(c, { scopes: ['account:write'] });
    const res = await bearer(t, pat.token, {
      method: 'POST',
      url: '/api/v1/me/email',
      body: { email: uniqueEmail() },
    });
    problem(res, 403, 'session_required');
  });

  it('refuses an address another account holds (as sign-up does), the current one, and a malformed one', async () => {
    const c = t.client();
    const { user } = await c.signup();
    const { user: other } = await t.client().signup({ verify: false });
    const before = (await readOutbox(t.outboxDir)).length;
    problem(await c.post('/api/v1/me/email', { email: other.email }), 409, 'email_taken');
    problem(await c.post('/api/v1/me/email', { email: user.email }), 400, 'invalid_request');
    problem(await c.post('/api/v1/me/email', { email: 'nope' }), 400, 'invalid_request');
    assert.equal((await readOutbox(t.outboxDir)).length, before, 'nothing was mailed');
  });

  it('mails the new address; its link makes the change once and tells the old address', async () => {
    const c = t.client();
    const { user, password } = await c.signup();
    const next = uniqueEmail('moved');
    const link = await changeLink(c, next);
    // Nothing changes until the link is used; opening its page changes nothing either.
    assert.equal((await t.client().get(link.slice(PUBLIC_URL.length))).statusCode, 200);
    assert.equal((await c.get('/api/v1/me')).json().user.email, user.email);

    const done = await followLink(c, link);
    assert.equal(done.statusCode, 200, done.body);
    const me = (await c.get('/api/v1/me')).json();
    assert.equal(me.user.email, next);
    assert.equal(me.email_verified, true);
    const notice = await lastMailTo(t.outboxDir, user.email);
    assert.equal(notice.subject, 'Your Latchkey email address was changed');
    assert.ok(!notice.text.includes(next), 'the old address learns only a masked form');

    assert.equal((await t.client().post('/api/auth/signin', { email: next, password })).statusCode, 200);
    assert.equal(
      (await t.client().post('/api/auth/signin', { email: user.email, password })).statusCode,
      401,
    );
    const again = await followLink(t.client(), link);
    assert.equal(again.statusCode, 400, 'a used link is used up');
  });

  it('a link whose address another account took meanwhile changes nothing', async () => {
    const c = t.client();
    const { user } = await c.signup();
    const next = uniqueEmail('contested');
    const link = await changeLink(c, next);
    await t.client().signup({ email: next, verify: false });
    const res = await followLink(c, link);
    assert.equal(res.statusCode, 409);
    assert.equal((await c.get('/api/v1/me')).json().user.email, user.email);
  });
});

describe('export', () => {
  it('holds the profile, orgs, sessions, token metadata (never a hash or secret), grants and activity', async () => {
    const c = t.client();
    const { user, org } = await c.signup();
    const pat = await mintPat(c, { name: 'laptop' });
    await tokensFor(t, c, { resource: API, scope: 'org:read', tick: ['org:read'], org: org.id });
    const res = await c.get('/api/v1/me/export');
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-disposition']), /attachment/);
    const body = res.json();
    assert.equal(body.profile.email, user.email);
    assert.equal(body.orgs[0].id, org.id);
    assert.ok(body.sessions.length >= 1);
    assert.ok(body.tokens.some((tk: { prefix: string }) => tk.prefix === pat.prefix));
    assert.equal(body.oauth_grants.length, 1);
    assert.ok(body.activity.some((e: { action: string }) => e.action === 'user.signup'));
    assert.ok(!res.body.includes(pat.token), 'no token secret');
    assert.doesNotMatch(res.body, /token_hash|password_hash|\$argon2/);
  });

  it('is refused to a scoped personal token without account:write, and to an OAuth token', async () => {
    const c = t.client();
    const { org } = await c.signup();
    const pat = await mintPat(c, { scopes: ['org:read'] });
    problem(await bearer(t, pat.token, { url: '/api/v1/me/export' }), 403, 'forbidden');
    const { tokens } = await tokensFor(t, c, {
      resource: API,
      scope: 'org:read',
      tick: ['org:read'],
      org: org.id,
    });
    const res = await bearer(t, tokens.access_token, { url: '/api/v1/me/export' });
    assert.equal(res.statusCode, 403);
  });
});

describe('account deletion', () => {
  it('is refused while the person is the last owner of an org with other members, naming it', async () => {
    const owner = t.client();
    const { org } = await owner.signup();
    await owner.patch('/api/v1/org', { name: 'Acme Rockets' }, org.id);
    await join(owner, org.id, 'member');
    const me = (await owner.get('/api/v1/me')).json();
    const res = await owner.req({ method: 'DELETE', url: '/api/v1/me', body: { confirm: me.user.email } });
    problem(res, 409, 'last_owner');
    assert.match(res.json().detail, /Acme Rockets/);
    assert.equal(res.json().org.id, org.id);
    assert.equal((await owner.get('/api/v1/me')).statusCode, 200, 'nothing changed');
  });

  it('needs a browser session', async () => {
    problem(
      await t.client().req({ method: 'DELETE', url: '/api/v1/me', body: { confirm: uniqueEmail() } }),
      401,
      'unauthorized',
    );
    const c = t.client();
    const { user } = await c.signup();
    const pat = await mintPat(c, { scopes: ['account:write'] });
    problem(
      await bearer(t, pat.token, { method: 'DELETE', url: '/api/v1/me', body: { confirm: user.email } }),
      403,
      'session_required',
    );
    // The session must type the address again.
    problem(
      await c.req({ method: 'DELETE', url: '/api/v1/me', body: { confirm: 'someone@example.com' } }),
      400,
      'invalid_request',
    );
    problem(await c.delete('/api/v1/me'), 400, 'invalid_request');
    assert.equal((await c.get('/api/v1/me')).statusCode, 200);
  });

  it('ends every credential at once, removes personal orgs, keeps shared ones, scrubs the audit trail', async () => {
    const owner = t.client();
    const { org: shared } = await owner.signup();
    const { c, user } = await join(owner, shared.id, 'admin');
    const me = (await c.get('/api/v1/me')).json();
    const personal = me.orgs.find((o: { id: string }) => o.id !== shared.id);
    assert.ok(personal, 'the person has a personal org');
    const pat = await mintPat(c);
    const other = t.client();
    assert.equal(
      (await other.post('/api/auth/signin', { email: user.email, password: 'a sturdy passphrase 42' }))
        .statusCode,
      200,
    );
    const { tokens } = await tokensFor(t, c, {
      resource: API,
      scope: 'org:read',
      tick: ['org:read'],
      org: shared.id,
    });
    assert.equal((await bearer(t, tokens.access_token, { url: '/api/v1/org' })).statusCode, 200);

    const res = await c.req({
      method: 'DELETE',
      url: '/api/v1/me',
      body: { confirm: user.email.toUpperCase() },
    });
    assert.equal(res.statusCode, 204, res.body);
    assert.equal((await c.get('/api/v1/me')).statusCode, 401);
    assert.equal((await other.get('/api/v1/me')).statusCode, 401);
    assert.equal((await bearer(t, pat.token, { url: '/api/v1/me' })).statusCode, 401);
    assert.equal((await bearer(t, tokens.access_token, { url: '/api/v1/org' })).statusCode, 401);

    const orgs = await t.deps.db
      .selectFrom('orgs')
      .select('id')
      .where('id', 'in', [shared.id, personal.id])
      .execute();
    assert.deepEqual(
      orgs.map((o) => o.id),
      [shared.id],
      'the personal org is gone, the shared one stays',
    );
    const rows = await t.deps.db
      .selectFrom('audit_events')
      .select(['action', 'data', 'target', 'subject_user_id'])
      .where((eb) => eb.or([eb('subject_user_id', '=', user.id), eb('target', '=', `user:${user.id}`)]))
      .execute();
    assert.ok(rows.length > 2, 'the audit rows stay');
    assert.ok(rows.some((r) => r.action === 'user.deleted'));
    const all = await t.deps.db.selectFrom('audit_events').select('data').execute();
    assert.ok(!JSON.stringify(all).includes(user.email), 'the email is nowhere in the audit trail');
    // The address is free again.
    assert.equal(
      (await t.client().post('/api/auth/signin', { email: user.email, password: 'a sturdy passphrase 42' }))
        .statusCode,
      401,
    );
  });
});
