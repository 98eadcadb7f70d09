import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { lastMailTo, PUBLIC_URL, type TestServer, testServer } from '../helpers/harness.js';
import { Browser } from '../helpers/browser.js';
import { googleAccount, type GoogleStandIn, startGoogle } from '../helpers/stand-ins/google.js';
import { enabledConnection, orgWithDomain, pageCode, type SsoOrg } from './helpers.js';

// The IdP goes down between the browser leaving for it and coming back: the code exchange cannot
// reach it, and the org's failover rule answers the callback.

const REDIRECT = `${PUBLIC_URL}/api/sso/oidc/callback`;
let idp: GoogleStandIn;
let t: TestServer;
let relaxed: SsoOrg;
let strict: SsoOrg;

before(async () => {
  idp = await startGoogle(REDIRECT);
  t = await testServer({ env: { SSO_ALLOW_LOOPBACK: 'true' } });
  const body = {
    kind: 'oidc',
    name: 'Acme IdP',
    oidc_issuer: idp.issuer,
    oidc_client_id: idp.clientId,
    oidc_client_secret: idp.clientSecret,
  };
  relaxed = await orgWithDomain(t);
  await enabledConnection(relaxed, body);
  await relaxed.owner.patch('/api/v1/org/sso', { sso_enforced: false }, relaxed.orgId);
  strict = await orgWithDomain(t);
  await enabledConnection(strict, body);
  await strict.owner.patch('/api/v1/org/sso', { status_page_url: 'https://status.example/' }, strict.orgId);
});
after(async () => t.close());

/** Starts a sign-in and walks the IdP's pages; returns the callback URL, not yet opened. */
async function toCallback(b: Browser, email: string): Promise<string> {
  idp.next = googleAccount(email);
  const start = await b.latchkey('GET', `/api/sso/start?email=${encodeURIComponent(email)}`);
  assert.equal(start.statusCode, 302, start.body);
  return b.throughProvider(String(start.headers.location));
}

describe('SSO failover mid-flow', () => {
  it('the IdP stops before the callback: enforced → 503 page; not enforced → magic link', async () => {
    const a = new Browser(t);
    const aEmail = `a@${relaxed.domain}`;
    const aBack = await toCallback(a, aEmail);
    const s = new Browser(t);
    const sBack = await toCallback(s, `s@${strict.domain}`);
    await idp.stop();

    const down = await s.latchkey('GET', sBack);
    assert.equal(down.statusCode, 503, down.body);
    assert.equal(pageCode(down.body), 'idp_unreachable');
    assert.ok(down.body.includes('https://status.example/'));
    assert.equal(s.cookie('lk_session'), undefined);

    const fallback = await a.latchkey('GET', aBack);
    assert.equal(fallback.statusCode, 200, fallback.body);
    assert.equal(pageCode(fallback.body), 'magic_link_sent');
    assert.ok(await lastMailTo(t.outboxDir, aEmail));
  });
});
