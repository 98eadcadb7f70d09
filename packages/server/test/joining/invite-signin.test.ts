import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { totpCode } from '../../src/accounts/mfa/totp.js';
import {
  type Client,
  DEFAULT_PASSWORD,
  formOf,
  lastMailTo,
  linkIn,
  PUBLIC_URL,
  type TestServer,
  testServer,
  tokenFrom,
  uniqueEmail,
} from '../helpers/harness.js';
import { Browser } from '../helpers/browser.js';
import { googleAccount, type GoogleStandIn, startGoogle } from '../helpers/stand-ins/google.js';
import { auditActions, enabledConnection, orgWithDomain, pageCode, type SsoOrg } from '../sso/helpers.js';

// Accepting an invitation never stands in for signing in.
// - The invitation page used to take an existing account's password and accept in the same step:
//   the membership was created before a second factor was proven (the session was only pending).
//   Now an existing account signs in on /login (every factor) and comes back to accept.
// - SSO enforcement was checked only at sign-in: a person signed in by password (or holding a
//   personal token) who accepted an invitation to an org enforcing SSO became a member, and their
//   password session then worked in that org. Now such an org admits only a session its own IdP
//   opened, or the IdP sign-in itself accepts the invitation.

const REDIRECT = `${PUBLIC_URL}/api/sso/oidc/callback`;
let idp: GoogleStandIn;
let t: TestServer;

before(async () => {
  idp = await startGoogle(REDIRECT);
  t = await testServer({ env: { SSO_ALLOW_LOOPBACK: 'true' } });
});
after(async () => {
  await t.close();
  await idp.stop();
});

function postForm(c: Client, url: string, fields: Record<string, string>) {
  return c.req({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

const signInUrl = (token: string) => `/login?return_to=${encodeURIComponent(`/invite?token=${token}`)}`;

async function invite(owner: Client, orgId: string, email: string, role = 'member') {
  const res = await owner.post('/api/v1/org/invitations', { email, role }, orgId);
  assert.equal(res.statusCode, 201, res.body);
  return tokenFrom(linkIn((await lastMailTo(t.outboxDir, email)).text, `${PUBLIC_URL}/invite`));
}

async function roleIn(orgId: string, email: string): Promise<string | null> {
  const row = await t.deps.db
    .selectFrom('memberships')
    .innerJoin('users', 'users.id', 'memberships.user_id')
    .select('memberships.role')
    .where('users.email', '=', email)
    .where('memberships.org_id', '=', orgId)
    .executeTakeFirst();
  return row?.role ?? null;
}

/** The invitation still works: its page opens for a browser with no session. */
async function stillOpen(token: string): Promise<boolean> {
  return (await t.client().get(`/invite?token=${token}`)).statusCode === 200;
}

/** Enrols TOTP on the signed-in account; returns its recovery codes. */
async function enrolTotp(c: { post: (url: string, body?: unknown) => Promise<LightMyRequestResponse> }) {
  const start = await c.post('/api/v1/me/mfa/totp');
  assert.equal(start.statusCode, 200, start.body);
  const secret = start.json().secret as string;
  const confirm = await c.post('/api/v1/me/mfa/totp/confirm', { code: totpCode(secret, new Date()) });
  assert.equal(confirm.statusCode, 200, confirm.body);
  return confirm.json().recovery_codes as string[];
}

describe('the invitation page signs nobody in', () => {
  it('an account with a second factor: the old password form changes nothing; /login with the second factor, then Join, accepts', async () => {
    const owner = t.client();
    const { org } = await owner.signup();
    const email = uniqueEmail('twofactor');
    const invitee = t.client();
    await invitee.signup({ email });
    const codes = await enrolTotp(invitee);
    const token = await invite(owner, org.id, email, 'admin');

    const c = t.client();
    const page = await c.get(`/invite?token=${token}`);
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /Sign in to accept/);
    assert.ok(page.body.includes(`href="${signInUrl(token).replace('=', '&#61;')}"`), page.body);
    assert.doesNotMatch(page.body, /type="password"/, 'no password field');
    assert.doesNotMatch(page.body, /<form/);

    // The old form, with the right password: sent to sign in, nothing else.
    for (const password of [DEFAULT_PASSWORD, 'a wrong password!!']) {
      const old = await postForm(c, '/invite', { token, password });
      assert.equal(old.statusCode, 303, old.body);
      assert.equal(old.headers.location, signInUrl(token));
      assert.equal(old.headers['set-cookie'], undefined, 'no cookie');
      assert.equal(c.cookie, null);
    }
    assert.equal(await roleIn(org.id, email), null, 'no membership');
    assert.ok(await stillOpen(token));

    // The sign-in page takes the way back and returns there.
    const login = await c.get(signInUrl(token));
    assert.equal(login.statusCode, 200);
    assert.ok(login.body.includes(`name="return_to" value="/invite?token&#61;${token}"`), 'return_to kept');
    const first = await postForm(c, '/login', {
      email,
      password: DEFAULT_PASSWORD,
      return_to: `/invite?token=${token}`,
    });
    assert.equal(first.statusCode, 303, first.body);
    assert.equal(first.headers.location, `/invite?token=${token}`);
    assert.ok(c.cookie?.startsWith('p.'), 'only a pending sign-in so far');

    // With the first factor alone, accepting is still a sign-in request, and the page sends the
    // browser to its second factor.
    const pendingPost = await postForm(c, '/invite', { token });
    assert.equal(pendingPost.statusCode, 303);
    assert.equal(pendingPost.headers.location, signInUrl(token));
    assert.equal(await roleIn(org.id, email), null, 'no membership before the second factor');
    const gate = await c.req({ url: `/invite?token=${token}`, headers: { accept: 'text/html' } });
    assert.equal(gate.statusCode, 303);
    assert.equal(
      gate.headers.location,
      `/login/second-factor?return_to=${encodeURIComponent(`/invite?token=${token}`)}`,
    );

    const second = await postForm(c, '/login/second-factor', {
      method: 'recovery_code',
      code: codes[0]!,
      return_to: `/invite?token=${token}`,
    });
    assert.equal(second.statusCode, 303, second.body);
    assert.equal(second.headers.location, `/invite?token=${token}`);
    assert.ok(c.cookie && !c.cookie.startsWith('p.'), 'signed in');

    const join = await c.get(`/invite?token=${token}`);
    assert.equal(join.statusCode, 200);
    assert.deepEqual(formOf(join.body).fields, { token });
    const accepted = await postForm(c, '/invite', { token });
    assert.equal(accepted.statusCode, 303, accepted.body);
    assert.equal(accepted.headers.location, '/');
    assert.equal(await roleIn(org.id, email), 'admin');
    assert.equal(await stillOpen(token), false, 'used up');
  });
});

describe('an org that enforces SSO admits an invitee only through its own IdP', () => {
  let o: SsoOrg;
  let n = 0;
  before(async () => {
    o = await orgWithDomain(t);
    await enabledConnection(o, {
      kind: 'oidc',
      name: 'Acme Okta',
      oidc_issuer: idp.issuer,
      oidc_client_id: idp.clientId,
      oidc_client_secret: idp.clientSecret,
    });
  });

  const emailAt = (tag: string) => `${tag}-${++n}@${o.domain}`;

  async function ssoSignIn(b: Browser, email: string) {
    idp.next = googleAccount(email);
    const start = await b.latchkey('GET', `/api/sso/start?org=${encodeURIComponent(o.slug)}`);
    assert.equal(start.statusCode, 302, start.body);
    return b.latchkey('GET', await b.throughProvider(String(start.headers.location)));
  }

  async function acceptedCount(): Promise<number> {
    return (await auditActions(t, o.orgId)).filter((a) => a === 'invitation.accepted').length;
  }

  it('a password session accepting on the page or the API is refused sso_required, and nothing changes', async () => {
    const email = emailAt('pw');
    const person = t.client();
    await person.signup({ email });
    const token = await invite(o.owner, o.orgId, email, 'admin');
    const before = await acceptedCount();

    assert.equal((await person.get(`/invite?token=${token}`)).statusCode, 200);
    const page = await postForm(person, '/invite', { token });
    assert.equal(page.statusCode, 403, page.body);
    assert.equal(pageCode(page.body), 'sso_required');
    assert.match(page.body, new RegExp(`href="/api/sso/start\\?org(=|&#61;)${o.slug}"`), 'links to the IdP');

    const api = await person.post('/api/v1/invitations/accept', { token });
    assert.equal(api.statusCode, 403, api.body);
    assert.match(String(api.headers['content-type']), /application\/problem\+json/);
    assert.equal(api.json().code, 'sso_required');
    assert.equal(api.json().org, o.slug);
    assert.equal(api.json().sso_url, `/api/sso/start?org=${o.slug}`);

    assert.equal(await roleIn(o.orgId, email), null, 'no membership');
    assert.ok(await stillOpen(token), 'the invitation is still usable');
    assert.equal(await acceptedCount(), before, 'nothing audited as accepted');
    assert.equal((await person.get('/api/v1/org/members', o.orgId)).statusCode, 403, 'no way into the org');
  });

  it('a personal token with account:write cannot accept either', async () => {
    const email = emailAt('pat');
    const person = t.client();
    await person.signup({ email });
    const minted = await person.post('/api/v1/tokens', { name: 'cli', scopes: ['account:write'] });
    assert.equal(minted.statusCode, 201, minted.body);
    const token = await invite(o.owner, o.orgId, email);

    const res = await t.client().req({
      method: 'POST',
      url: '/api/v1/invitations/accept',
      headers: { authorization: `Bearer ${minted.json().token}` },
      body: { token },
    });
    assert.equal(res.statusCode, 403, res.body);
    assert.equal(res.json().code, 'sso_required');
    assert.equal(await roleIn(o.orgId, email), null);
    assert.ok(await stillOpen(token));
  });

  it('signing in through the org’s IdP accepts the invitation with its role, with or without just-in-time provisioning', async () => {
    // An existing account (made with a password before the invitation) and a person with none.
    const existing = emailAt('existing');
    await t.client().signup({ email: existing });
    const fresh = emailAt('fresh');
    const offExisting = emailAt('off-existing');
    await t.client().signup({ email: offExisting });
    const offFresh = emailAt('off-fresh');
    const stranger = emailAt('stranger');
    await t.client().signup({ email: stranger });

    const tokens = new Map<string, string>();
    for (const e of [existing, fresh, offExisting, offFresh])
      tokens.set(e, await invite(o.owner, o.orgId, e, 'admin'));

    for (const e of [existing, fresh]) {
      const b = new Browser(t);
      const res = await ssoSignIn(b, e);
      assert.equal(res.statusCode, 303, res.body);
      assert.equal(await roleIn(o.orgId, e), 'admin', 'the invited role, not the default one');
      assert.equal(await stillOpen(tokens.get(e)!), false, 'the invitation is used up');
      assert.equal((await b.latchkey('GET', '/api/v1/me')).json().user.email, e);
    }

    const off = await o.owner.patch('/api/v1/org/sso', { jit_provisioning: false }, o.orgId);
    assert.equal(off.statusCode, 200, off.body);
    try {
      for (const e of [offExisting, offFresh]) {
        const res = await ssoSignIn(new Browser(t), e);
        assert.equal(res.statusCode, 303, res.body);
        assert.equal(await roleIn(o.orgId, e), 'admin');
        assert.equal(await stillOpen(tokens.get(e)!), false);
      }
      // Without an invitation, an account that is not a member is still refused.
      const refused = await ssoSignIn(new Browser(t), stranger);
      assert.equal(refused.statusCode, 403, refused.body);
      assert.equal(pageCode(refused.body), 'account_not_member');
    } finally {
      await o.owner.patch('/api/v1/org/sso', { jit_provisioning: true }, o.orgId);
    }
  });

  it('a session the org’s IdP opened may accept; its SSO org survives the second factor', async () => {
    const email = emailAt('sso');
    const b = new Browser(t);
    assert.equal((await ssoSignIn(b, email)).statusCode, 303);
    const codes = await enrolTotp({
      post: (url, body) => b.latchkey('POST', url, body ?? {}),
    });

    // Signing in again through the IdP owes the second factor; finishing it keeps the SSO org.
    const again = new Browser(t);
    assert.equal((await ssoSignIn(again, email)).statusCode, 303);
    assert.ok(again.cookie('lk_session')?.startsWith('p.'), 'pending until the second factor');
    const done = await again.latchkey('POST', '/api/auth/second-factor', {
      method: 'recovery_code',
      code: codes[0],
    });
    assert.equal(done.statusCode, 200, done.body);
    const me = (await again.latchkey('GET', '/api/v1/me')).json();
    const rows = await t.deps.db
      .selectFrom('sessions')
      .select(['sso_org_id', 'pending', 'revoked_at'])
      .where('user_id', '=', me.user.id)
      .execute();
    assert.ok(rows.length >= 3);
    for (const r of rows) assert.equal(r.sso_org_id, o.orgId, 'every session the IdP opened names the org');

    // Removed from the org (sessions are the account's, they go on) and invited back.
    const removed = await o.owner.delete(`/api/v1/org/members/${me.user.id}`, o.orgId);
    assert.equal(removed.statusCode, 204, removed.body);
    const token = await invite(o.owner, o.orgId, email, 'billing');

    const accepted = await again.latchkey('POST', '/api/v1/invitations/accept', { token });
    assert.equal(accepted.statusCode, 200, accepted.body);
    assert.equal(accepted.json().org.role, 'billing');
    assert.equal(await roleIn(o.orgId, email), 'billing');
  });
});
