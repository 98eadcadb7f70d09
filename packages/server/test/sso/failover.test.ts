import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  lastMailTo,
  linkIn,
  PUBLIC_URL,
  type TestServer,
  testServer,
  tokenFrom,
} from '../helpers/harness.js';
import { Browser } from '../helpers/browser.js';
import { type GoogleStandIn, startGoogle } from '../helpers/stand-ins/google.js';
import { auditActions, enabledConnection, orgWithDomain, pageCode, type SsoOrg } from './helpers.js';

// When the IdP cannot be reached: orgs that do not enforce SSO get a magic link instead, orgs that
// do get a 503 page naming their status page. The local IdP is really stopped.

const REDIRECT = `${PUBLIC_URL}/api/sso/oidc/callback`;
const STATUS = 'https://status.acme.example/';
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
  const r = await relaxed.owner.patch('/api/v1/org/sso', { sso_enforced: false }, relaxed.orgId);
  assert.equal(r.statusCode, 200, r.body);
  strict = await orgWithDomain(t);
  await enabledConnection(strict, body);
  const s = await strict.owner.patch('/api/v1/org/sso', { status_page_url: STATUS }, strict.orgId);
  assert.deepEqual(s.json(), {
    sso_enforced: true,
    status_page_url: STATUS,
    enforcement_active: true,
    jit_provisioning: true,
  });
  await idp.stop();
});
after(async () => t.close());

describe('SSO failover when the IdP is down', () => {
  it('sso_enforced=false: a magic link goes to the verified-domain email, and it signs in', async () => {
    const email = `ada@${relaxed.domain}`;
    const b = new Browser(t);
    const res = await b.latchkey('GET', `/api/sso/start?email=${encodeURIComponent(email)}`);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(pageCode(res.body), 'magic_link_sent');
    const link = linkIn(
      (await lastMailTo(t.outboxDir, email)).text,
      `${PUBLIC_URL}/api/auth/magic-link/callback`,
    );
    assert.equal((await b.latchkey('GET', link)).statusCode, 200, 'the link opens a page');
    const signedIn = await b.latchkey('POST', '/api/auth/magic-link/callback', {
      token: tokenFrom(link),
      confirm: 'yes',
    });
    assert.equal(signedIn.statusCode, 303, signedIn.body);
    assert.ok(b.cookie('lk_session'));
    assert.ok((await auditActions(t, relaxed.orgId)).includes('sso.idp_unreachable'));
  });

  it('sso_enforced=true: a 503 page with the status-page link, and no other way in', async () => {
    const email = `grace@${strict.domain}`;
    const res = await new Browser(t).latchkey('GET', `/api/sso/start?email=${encodeURIComponent(email)}`);
    assert.equal(res.statusCode, 503, res.body);
    assert.equal(pageCode(res.body), 'idp_unreachable');
    assert.ok(res.body.includes(`href="${STATUS}"`));
    await assert.rejects(lastMailTo(t.outboxDir, email), 'no magic link was sent');
    // The owner (a member with a password) is still refused the password.
    const pw = await t
      .client()
      .post('/api/auth/signin', { email: strict.ownerEmail, password: 'a sturdy passphrase 42' });
    assert.equal(pw.json().code, 'sso_required');
  });

  it('by org slug with no email, a relaxed org says the IdP is unreachable', async () => {
    const res = await new Browser(t).latchkey('GET', `/api/sso/start?org=${relaxed.slug}`);
    assert.equal(res.statusCode, 503);
    assert.equal(pageCode(res.body), 'idp_unreachable');
  });

  it('an IdP answering 5xx counts as unreachable; one answering 4xx is an IdP error, not a failover', async () => {
    let status = 200;
    const server = createServer((req, res) => {
      const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      if (status !== 200) {
        res.writeHead(status).end('down');
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          issuer,
          authorization_endpoint: `${issuer}/auth`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
        }),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const o = await orgWithDomain(t);
      await enabledConnection(o, {
        kind: 'oidc',
        name: 'Flaky',
        oidc_issuer: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        oidc_client_id: 'c',
        oidc_client_secret: 's',
      });
      await o.owner.patch('/api/v1/org/sso', { sso_enforced: false }, o.orgId);
      const email = `lin@${o.domain}`;
      status = 502;
      const down = await new Browser(t).latchkey('GET', `/api/sso/start?email=${email}`);
      assert.equal(pageCode(down.body), 'magic_link_sent');
      assert.ok(await lastMailTo(t.outboxDir, email));
      status = 404;
      const broken = await new Browser(t).latchkey('GET', `/api/sso/start?email=${email}`);
      assert.equal(broken.statusCode, 502);
      assert.equal(pageCode(broken.body), 'idp_error');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
