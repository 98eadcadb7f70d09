import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  followLink,
  lastMailTo,
  linkIn,
  PUBLIC_URL,
  type TestServer,
  testServer,
} from '../helpers/harness.js';
import { fingerprint } from '../http/state.js';
import { Browser } from '../helpers/browser.js';
import { googleAccount, type GoogleStandIn, startGoogle } from '../helpers/stand-ins/google.js';
import { auditActions, enabledConnection, orgWithDomain, pageCode, uniqueDomain } from './helpers.js';

// SSO through an OIDC connection, end to end against node-oidc-provider on 127.0.0.1: discovery,
// code + PKCE + state + nonce, the ID token checked; just-in-time accounts and memberships; and
// enforcement refusing password and magic-link sign-in for members.

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

const oidcBody = () => ({
  kind: 'oidc',
  name: 'Acme Okta',
  oidc_issuer: idp.issuer,
  oidc_client_id: idp.clientId,
  oidc_client_secret: idp.clientSecret,
});

/** The account tables and the SSO identities: "nothing linked or created" compares these. */
async function snapshot() {
  const ids = await t.deps.db
    .selectFrom('sso_identities')
    .select(['connection_id', 'subject', 'user_id'])
    .orderBy('connection_id')
    .orderBy('subject')
    .execute();
  return { ...(await fingerprint(t.deps.db)), sso_identities: ids };
}

async function ssoSignIn(b: Browser, email: string, returnTo?: string) {
  const q = new URLSearchParams({ email, ...(returnTo ? { return_to: returnTo } : {}) });
  const start = await b.latchkey('GET', `/api/sso/start?${q}`);
  if (start.statusCode !== 302) return start;
  const back = await b.throughProvider(String(start.headers.location));
  return b.latchkey('GET', back);
}

describe('OIDC SSO', () => {
  it('routes a verified-domain email to the org’s IdP and provisions the person just in time', async () => {
    const o = await orgWithDomain(t);
    const conn = await enabledConnection(o, oidcBody());
    assert.equal(conn.enabled, true);
    assert.equal(conn.oidc.client_secret_set, true);
    assert.ok(!JSON.stringify(conn).includes(idp.clientSecret), 'the client secret is never returned');

    const email = `ada@${o.domain}`;
    idp.next = googleAccount(email);
    const b = new Browser(t);
    const start = await b.latchkey(
      'GET',
      `/api/sso/start?email=${encodeURIComponent(email)}&return_to=/next`,
    );
    assert.equal(start.statusCode, 302, start.body);
    const auth = new URL(String(start.headers.location));
    assert.equal(auth.origin, idp.issuer);
    for (const p of ['state', 'nonce', 'code_challenge']) assert.ok(auth.searchParams.get(p), p);
    assert.equal(auth.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(auth.searchParams.get('login_hint'), email);
    const res = await b.latchkey('GET', await b.throughProvider(auth.href));
    assert.equal(res.statusCode, 303, res.body);
    assert.equal(res.headers.location, '/next');
    const me = (await b.latchkey('GET', '/api/v1/me')).json();
    assert.equal(me.user.email, email);
    const member = me.orgs.find((x: { id: string }) => x.id === o.orgId);
    assert.equal(member?.role, 'member', 'joined the org with the default role');

    // The second sign-in is the same person (by subject), with no second membership.
    const again = new Browser(t);
    assert.equal((await ssoSignIn(again, email)).statusCode, 303);
    assert.equal((await again.latchkey('GET', '/api/v1/me')).json().user.id, me.user.id);
    const actions = await auditActions(t, o.orgId);
    for (const a of [
      'sso.connection_created',
      'sso.connection_tested',
      'sso.connection_updated',
      'sso.domain_verified',
    ]) {
      assert.ok(actions.includes(a), a);
    }
    assert.equal(actions.filter((a) => a === 'member.added').length, 1);
    assert.equal(actions.filter((a) => a === 'sso.identity_linked').length, 1);
  });

  it('refuses password and magic-link sign-in for members of an enforcing org, until enforcement is off', async () => {
    const o = await orgWithDomain(t);
    await enabledConnection(o, oidcBody());
    const c = t.client();
    const pw = await c.post('/api/auth/signin', { email: o.ownerEmail, password: 'a sturdy passphrase 42' });
    assert.equal(pw.statusCode, 403, pw.body);
    assert.equal(pw.json().code, 'sso_required');
    assert.equal(pw.json().sso_url, `/api/sso/start?org=${o.slug}`);

    const page = await c.req({
      method: 'POST',
      url: '/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ email: o.ownerEmail, password: 'a sturdy passphrase 42' }).toString(),
    });
    assert.equal(page.statusCode, 403);
    assert.match(page.body, /single sign-on/);

    await c.post('/api/auth/magic-link', { email: o.ownerEmail });
    const link = linkIn(
      (await lastMailTo(t.outboxDir, o.ownerEmail)).text,
      `${PUBLIC_URL}/api/auth/magic-link/callback`,
    );
    const ml = await followLink(c, link);
    assert.equal(ml.statusCode, 403);
    assert.equal(ml.json().code, 'sso_required');
    assert.equal(c.cookie, null, 'no session');

    const off = await o.owner.patch('/api/v1/org/sso', { sso_enforced: false }, o.orgId);
    assert.equal(off.statusCode, 200, off.body);
    assert.deepEqual(off.json(), {
      sso_enforced: false,
      status_page_url: null,
      enforcement_active: false,
      jit_provisioning: true,
    });
    const ok = await t
      .client()
      .post('/api/auth/signin', { email: o.ownerEmail, password: 'a sturdy passphrase 42' });
    assert.equal(ok.statusCode, 200, ok.body);
  });

  it('a connection is enabled only after a passing test, by an admin', async () => {
    const o = await orgWithDomain(t);
    const c = await o.owner.post('/api/v1/org/sso/connections', oidcBody(), o.orgId);
    const id = c.json().id;
    const early = await o.owner.patch(`/api/v1/org/sso/connections/${id}`, { enabled: true }, o.orgId);
    assert.equal(early.statusCode, 409);
    assert.equal(early.json().code, 'sso_untested');
    const bad = await o.owner.post(
      '/api/v1/org/sso/connections',
      { ...oidcBody(), oidc_issuer: 'http://127.0.0.1:1' },
      o.orgId,
    );
    const tested = await o.owner.post(
      `/api/v1/org/sso/connections/${bad.json().id}/test`,
      undefined,
      o.orgId,
    );
    assert.equal(tested.json().test.result, 'fail');
    const refused = await o.owner.patch(
      `/api/v1/org/sso/connections/${bad.json().id}`,
      { enabled: true },
      o.orgId,
    );
    assert.equal(refused.json().code, 'sso_untested');
    const insecure = await o.owner.post(
      '/api/v1/org/sso/connections',
      { ...oidcBody(), oidc_issuer: 'http://idp.example.com' },
      o.orgId,
    );
    assert.equal(insecure.statusCode, 400);
  });

  it('only verified domains route, and the IdP cannot sign in emails outside them or take over accounts', async () => {
    const o = await orgWithDomain(t);
    await enabledConnection(o, oidcBody());
    const unverified = uniqueDomain('other');
    await o.owner.post('/api/v1/org/sso/domains', { domain: unverified }, o.orgId);
    const b = new Browser(t);
    const r = await b.latchkey('GET', `/api/sso/start?email=someone@${unverified}`);
    assert.equal(r.statusCode, 404);
    assert.equal(pageCode(r.body), 'no_connection');

    // The IdP answers for an address outside the org's verified domains.
    idp.next = googleAccount(`mallory@${unverified}`);
    const out = await ssoSignIn(new Browser(t), `x@${o.domain}`);
    assert.equal(pageCode(out.body), 'email_not_allowed');

    // An existing account at the domain that is not a member is not joined by the IdP when the
    // org does not provision at sign-in (with provisioning on, see takeover.test.ts).
    const jitOff = await o.owner.patch('/api/v1/org/sso', { jit_provisioning: false }, o.orgId);
    assert.equal(jitOff.statusCode, 200, jitOff.body);
    const email = `early@${o.domain}`;
    await t.client().signup({ email });
    idp.next = googleAccount(email);
    const taken = await ssoSignIn(new Browser(t), email);
    assert.equal(taken.statusCode, 403);
    assert.equal(pageCode(taken.body), 'account_not_member');

    // Another org cannot verify a domain that is already verified.
    const other = t.client();
    const s = await other.signup();
    await other.post('/api/v1/org/sso/domains', { domain: o.domain }, s.org.id);
    const v = await other.post(`/api/v1/org/sso/domains/${o.domain}/verify`, undefined, s.org.id);
    assert.equal(v.statusCode, 409);
    assert.equal(v.json().code, 'domain_claimed');
  });

  it('email_verified: an address the IdP calls unverified (false or "false") never links nor creates an account; an unstated one is taken at a verified domain only', async () => {
    const o = await orgWithDomain(t);
    await enabledConnection(o, oidcBody());
    const existing = `squat@${o.domain}`;
    await t.client().signup({ email: existing });
    for (const verified of [false, 'false'] as const) {
      for (const email of [existing, `fresh-${String(verified)}@${o.domain}`]) {
        idp.next = googleAccount(email, verified);
        const before0 = await snapshot();
        const b = new Browser(t);
        const res = await ssoSignIn(b, email);
        assert.equal(res.statusCode, 403, res.body);
        assert.equal(pageCode(res.body), 'email_not_allowed', `${email}, email_verified ${verified}`);
        assert.equal(b.cookie('lk_session'), undefined);
        assert.deepEqual(await snapshot(), before0, 'nothing linked, created or proven');
      }
    }

    // No claim at all, at a domain the org has not verified: refused, nothing created.
    const elsewhere = uniqueDomain('elsewhere');
    await o.owner.post('/api/v1/org/sso/domains', { domain: elsewhere }, o.orgId);
    idp.next = googleAccount(`mallory@${elsewhere}`, 'unstated');
    const before1 = await snapshot();
    const out = await ssoSignIn(new Browser(t), `x@${o.domain}`);
    assert.equal(pageCode(out.body), 'email_not_allowed');
    assert.deepEqual(await snapshot(), before1);

    // No claim at all, at the org's verified domain: the IdP speaks for it.
    const email = `unstated@${o.domain}`;
    idp.next = googleAccount(email, 'unstated');
    const b = new Browser(t);
    const ok = await ssoSignIn(b, email);
    assert.equal(ok.statusCode, 303, ok.body);
    const me = (await b.latchkey('GET', '/api/v1/me')).json();
    assert.equal(me.user.email, email);
    assert.ok(me.orgs.some((x: { id: string }) => x.id === o.orgId));
  });

  it('state must match: a callback not started by this browser is refused', async () => {
    const o = await orgWithDomain(t);
    await enabledConnection(o, oidcBody());
    const email = `eve@${o.domain}`;
    idp.next = googleAccount(email);
    const victim = new Browser(t);
    const start = await new Browser(t).latchkey('GET', `/api/sso/start?email=${email}`);
    const back = await new Browser(t).throughProvider(String(start.headers.location));
    const res = await victim.latchkey('GET', back);
    assert.equal(res.statusCode, 400);
    assert.equal(pageCode(res.body), 'bad_state');
  });

  it('members (not admins) cannot read or change SSO settings', async () => {
    const o = await orgWithDomain(t);
    await enabledConnection(o, oidcBody());
    const email = `m@${o.domain}`;
    idp.next = googleAccount(email);
    const b = new Browser(t);
    await ssoSignIn(b, email);
    const res = await b.latchkey('GET', '/api/v1/org/sso/connections');
    // The session started in the SSO org; a member has no org:update.
    assert.equal(res.statusCode, 403, res.body);
  });

  it('the login page offers SSO by email; its form gets a page that links on to the IdP', async () => {
    const login = await t.client().get('/login');
    assert.match(login.body, /<form method="get" action="\/api\/sso\/start"[ >]/);
    const o = await orgWithDomain(t);
    await enabledConnection(o, oidcBody());
    const res = await new Browser(t).latchkey('GET', `/api/sso/start?email=x@${o.domain}&form=1`);
    assert.equal(res.statusCode, 200);
    assert.ok(res.body.includes(`href="${idp.issuer}/`), 'links to the IdP');
  });
});
