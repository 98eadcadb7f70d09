import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PUBLIC_URL, readOutbox, type TestServer, testServer } from '../helpers/harness.js';
import { Browser } from '../helpers/browser.js';
import { googleAccount, type GoogleStandIn, startGoogle } from '../helpers/stand-ins/google.js';
import { enabledConnection, orgWithDomain } from './helpers.js';

// An OIDC SSO sign-in from a browser the account does not know is audited and mailed, like any other.

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

async function ssoSignIn(b: Browser, email: string) {
  const start = await b.latchkey('GET', `/api/sso/start?${new URLSearchParams({ email })}`);
  assert.equal(start.statusCode, 302, start.body);
  return b.latchkey('GET', await b.throughProvider(String(start.headers.location)));
}

describe('SSO sign-in from a new device', () => {
  it('the just-in-time account and the same browser are not news; a second browser is', async () => {
    const o = await orgWithDomain(t);
    await enabledConnection(o, {
      kind: 'oidc',
      name: 'Acme Okta',
      oidc_issuer: idp.issuer,
      oidc_client_id: idp.clientId,
      oidc_client_secret: idp.clientSecret,
    });
    const email = `grace@${o.domain}`;
    idp.next = googleAccount(email);
    const home = new Browser(t);
    assert.equal((await ssoSignIn(home, email)).statusCode, 303);
    assert.ok(home.cookie('lk_device'), 'the browser keeps a device cookie');
    const userId = (await home.latchkey('GET', '/api/v1/me')).json().user.id as string;
    const events = () =>
      t.deps.db
        .selectFrom('audit_events')
        .select(['data', 'org_id'])
        .where('action', '=', 'user.new_device_signin')
        .where('target', '=', `user:${userId}`)
        .execute();
    assert.equal((await events()).length, 0, 'a just-in-time sign-up is not news');

    assert.equal((await ssoSignIn(home, email)).statusCode, 303);
    assert.equal((await events()).length, 0, 'the same browser again is not news');

    const away = new Browser(t);
    assert.equal((await ssoSignIn(away, email)).statusCode, 303);
    const after = await events();
    assert.equal(after.length, 1);
    const data = after[0]!.data as Record<string, unknown>;
    assert.equal(data.method, 'sso');
    assert.equal(data.ip, away.ip);
    assert.equal(after[0]!.org_id, null);
    const mails = (await readOutbox(t.outboxDir)).filter(
      (m) => m.to === email && m.subject === 'New sign-in to your Latchkey account',
    );
    assert.equal(mails.length, 1);
    assert.match(mails[0]!.text, /Signed in with: single sign-on/);
  });
});
