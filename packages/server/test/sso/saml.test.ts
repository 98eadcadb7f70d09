import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { PUBLIC_URL, type TestServer, testServer } from '../helpers/harness.js';
import { Browser } from '../helpers/browser.js';
import { auditActions, enabledConnection, orgWithDomain, pageCode, type SsoOrg } from './helpers.js';
import {
  ATTACKER_CERT,
  ATTACKER_KEY,
  type AssertionOptions,
  IDP_SSO_URL,
  idpMetadata,
  readAuthnRequest,
  samlResponse,
} from './saml-idp.js';

// SAML 2.0 SSO against an IdP built in the test with xml-crypto, signing real assertions with a
// fixed test key: the happy path with just-in-time provisioning, then every answer that must be
// refused — unsigned, forged, expired, for another audience or recipient, replayed.

let t: TestServer;
let o: SsoOrg;
let conn: { id: string; saml: { sp_entity_id: string; acs_url: string } };

before(async () => {
  t = await testServer();
  o = await orgWithDomain(t);
  conn = await enabledConnection(o, { kind: 'saml', name: 'Acme ADFS', saml_metadata_xml: idpMetadata() });
});
after(async () => t.close());

/** Starts at Latchkey and reads the AuthnRequest it sends the browser to the IdP with. */
async function start(b: Browser, email: string) {
  const res = await b.latchkey('GET', `/api/sso/start?email=${encodeURIComponent(email)}&return_to=/home`);
  assert.equal(res.statusCode, 302, res.body);
  const location = String(res.headers.location);
  assert.ok(location.startsWith(IDP_SSO_URL), location);
  return readAuthnRequest(location);
}

async function post(
  b: Browser,
  samlResponseB64: string,
  relayState: string,
): Promise<LightMyRequestResponse> {
  // Posted by the IdP's page: cross-site, form-encoded, Origin of the IdP, carrying the browser's
  // SSO binding cookie.
  const bind = b.cookie('lk_sso_bind');
  return t.app.inject({
    method: 'POST',
    url: `/api/sso/saml/acs/${conn.id}`,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      origin: 'https://idp.example.test',
      ...(bind ? { cookie: `lk_sso_bind=${bind}` } : {}),
    },
    remoteAddress: b.ip,
    payload: new URLSearchParams({ SAMLResponse: samlResponseB64, RelayState: relayState }).toString(),
  });
}

async function flow(email: string, bend: Partial<AssertionOptions> = {}) {
  const b = new Browser(t);
  const req = await start(b, email);
  const body = samlResponse({
    inResponseTo: req.id,
    audience: conn.saml.sp_entity_id,
    acs: conn.saml.acs_url,
    email,
    ...bend,
  });
  return { b, req, body, res: await post(b, body, req.relayState) };
}

describe('SAML SSO', () => {
  it('serves SP metadata with the ACS URL and entity id', async () => {
    const res = await t.app.inject({ url: `/api/sso/saml/metadata/${conn.id}` });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /samlmetadata\+xml/);
    assert.ok(res.body.includes(`entityID="${PUBLIC_URL}/api/sso/saml/metadata/${conn.id}"`));
    assert.ok(res.body.includes(`Location="${PUBLIC_URL}/api/sso/saml/acs/${conn.id}"`));
    assert.ok(res.body.includes('WantAssertionsSigned="true"'));
  });

  it('a signed response signs the person in, provisioned just in time', async () => {
    const email = `ada@${o.domain}`;
    const { req, res } = await flow(email);
    assert.equal(req.acs, conn.saml.acs_url);
    assert.equal(res.statusCode, 303, res.body);
    assert.equal(res.headers.location, '/home');
    const cookie = (res.cookies as { name: string; value: string }[]).find((c) => c.name === 'lk_session');
    assert.ok(cookie, 'a session');
    const me = await t.app.inject({ url: '/api/v1/me', headers: { cookie: `lk_session=${cookie.value}` } });
    assert.equal(me.json().user.email, email);
    assert.equal(me.json().user.name, 'Ada Lovelace');
    assert.ok(
      me.json().orgs.some((x: { id: string; role: string }) => x.id === o.orgId && x.role === 'member'),
    );
  });

  const refusals: [string, (email: string) => Partial<AssertionOptions>][] = [
    ['unsigned (neither response nor assertion)', () => ({ signAssertion: false, signResponse: false })],
    ['assertion unsigned, response signed', () => ({ signAssertion: false })],
    ['response unsigned, assertion signed', () => ({ signResponse: false })],
    ['forged (signed with another key)', () => ({ key: ATTACKER_KEY, cert: ATTACKER_CERT })],
    ['expired', () => ({ shiftMs: -60 * 60_000 })],
    ['not yet valid', () => ({ shiftMs: 60 * 60_000 })],
    ['for another audience', () => ({ audience: 'https://other-sp.example.test' })],
    [
      'for another recipient',
      () => ({ acs: `${PUBLIC_URL}/api/sso/saml/acs/00000000-0000-4000-8000-000000000000` }),
    ],
    ['from another issuer', () => ({ issuer: 'https://evil.example.test' })],
    ['in response to a request Latchkey never sent', () => ({ inResponseTo: '_never-sent' })],
  ];
  for (const [name, bend] of refusals) {
    it(`refuses an assertion ${name}`, async () => {
      const email = `r-${Math.random().toString(36).slice(2)}@${o.domain}`;
      const { res, b } = await flow(email, bend(email));
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(pageCode(res.body), 'assertion_invalid');
      const cookies = res.cookies as { name: string }[];
      assert.ok(!cookies.some((c) => c.name === 'lk_session'), 'no session');
      assert.equal(b.cookie('lk_session'), undefined);
      const user = await t.deps.db
        .selectFrom('users')
        .select('id')
        .where('email', '=', email)
        .executeTakeFirst();
      assert.equal(user, undefined, 'nobody was provisioned');
    });
  }

  it('refuses a tampered assertion (the signature no longer matches)', async () => {
    const email = `tamper@${o.domain}`;
    const b = new Browser(t);
    const req = await start(b, email);
    const good = Buffer.from(
      samlResponse({ inResponseTo: req.id, audience: conn.saml.sp_entity_id, acs: conn.saml.acs_url, email }),
      'base64',
    ).toString('utf8');
    const forged = Buffer.from(good.replaceAll(email, `boss@${o.domain}`)).toString('base64');
    const res = await post(b, forged, req.relayState);
    assert.equal(pageCode(res.body), 'assertion_invalid');
  });

  it('refuses a replayed response, and a reused assertion id in a fresh response', async () => {
    const email = `replay@${o.domain}`;
    const first = await flow(email, { assertionId: '_fixed-assertion-id-1' });
    assert.equal(first.res.statusCode, 303, first.res.body);
    // The same post again: its sign-in was consumed (see takeover.test.ts for the binding).
    const again = await post(first.b, first.body, first.req.relayState);
    assert.equal(again.statusCode, 400);
    assert.equal(pageCode(again.body), 'bad_state');
    // A new, validly signed response to a new request that reuses the assertion id.
    const reused = await flow(email, { assertionId: '_fixed-assertion-id-1' });
    assert.equal(reused.res.statusCode, 400);
    assert.equal(pageCode(reused.res.body), 'assertion_replayed');
    assert.ok((await auditActions(t, o.orgId)).includes('sso.assertion_refused'));
  });

  it('refuses a response whose RelayState is not this transaction', async () => {
    const email = `relay@${o.domain}`;
    const b = new Browser(t);
    const req = await start(b, email);
    const body = samlResponse({
      inResponseTo: req.id,
      audience: conn.saml.sp_entity_id,
      acs: conn.saml.acs_url,
      email,
    });
    const res = await post(b, body, 'not-a-transaction');
    assert.equal(pageCode(res.body), 'bad_state');
  });
});
