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
} from '../helpers/harness.js';
import { enabledConnection, orgWithDomain, pageCode, type SsoOrg } from '../sso/helpers.js';
import { idpMetadata } from '../sso/saml-idp.js';

// Every sign-in goes through `signIn`, the one place that checks SSO enforcement at sign-in, and
// every acceptance through `acceptInvitation`, which applies the same rule. The invitation page
// used to create a session on its own: an invitee of an org that enforces SSO got a password
// session by accepting the invitation with a new password (or their existing one).

let t: TestServer;
let o: SsoOrg;

before(async () => {
  t = await testServer();
  o = await orgWithDomain(t);
  await enabledConnection(o, { kind: 'saml', name: 'Acme IdP', saml_metadata_xml: idpMetadata() });
});
after(() => t.close());

async function invite(email: string) {
  const res = await o.owner.post('/api/v1/org/invitations', { email, role: 'member' }, o.orgId);
  assert.equal(res.statusCode, 201, res.body);
  return tokenFrom(linkIn((await lastMailTo(t.outboxDir, email)).text, `${PUBLIC_URL}/invite`));
}

function postInvite(c: Client, fields: Record<string, string>) {
  return c.req({
    method: 'POST',
    url: '/invite',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

async function memberOfOrg(email: string): Promise<boolean> {
  const row = await t.deps.db
    .selectFrom('memberships')
    .innerJoin('users', 'users.id', 'memberships.user_id')
    .select('memberships.user_id')
    .where('users.email', '=', email)
    .where('memberships.org_id', '=', o.orgId)
    .executeTakeFirst();
  return row !== undefined;
}

describe('the invitation page cannot sign a person into an SSO-enforcing org with a password', () => {
  it('a new invitee creating an account with a password is refused sso_required: no account, no session', async () => {
    const email = `newcomer@${o.domain}`;
    const token = await invite(email);
    const c = t.client();
    assert.match((await c.get(`/invite?token=${token}`)).body, /Create account and join/);
    const res = await postInvite(c, { token, name: 'New Comer', password: DEFAULT_PASSWORD });
    assert.equal(res.statusCode, 403, res.body);
    assert.equal(pageCode(res.body), 'sso_required');
    assert.match(res.body, new RegExp(`href="/api/sso/start\\?org(=|&#61;)${o.slug}"`), 'links to the IdP');
    assert.equal(
      res.cookies.find((k) => k.name === 'lk_session'),
      undefined,
      'no session cookie',
    );
    assert.equal(c.cookie, null);
    assert.equal((await c.get('/api/v1/me')).statusCode, 401);
    const user = await t.deps.db
      .selectFrom('users')
      .select('id')
      .where('email', '=', email)
      .executeTakeFirst();
    assert.equal(user, undefined, 'the account is rolled back with the refused sign-in');
    const sessions = await t.deps.db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .select('sessions.id')
      .where('users.email', '=', email)
      .execute();
    assert.deepEqual(sessions, []);
    // The invitation is still open: the person joins through the org's identity provider.
    assert.equal((await t.client().get(`/invite?token=${token}`)).statusCode, 200);
  });

  it('an existing account is sent to sign in; signed in by password, accepting is refused sso_required', async () => {
    const email = `veteran@${o.domain}`;
    await t.client().signup({ email });
    const token = await invite(email);
    const c = t.client();
    assert.match((await c.get(`/invite?token=${token}`)).body, /Sign in to accept/);
    const old = await postInvite(c, { token, password: DEFAULT_PASSWORD });
    assert.equal(old.statusCode, 303, old.body);
    assert.match(String(old.headers.location), /^\/login\?return_to=/);
    assert.equal(c.cookie, null, 'no session cookie');
    assert.equal(await memberOfOrg(email), false);

    // Not yet a member, the account may sign in by password; joining is what the org refuses.
    const signedIn = await c.post('/api/auth/signin', { email, password: DEFAULT_PASSWORD });
    assert.equal(signedIn.statusCode, 200, signedIn.body);
    const res = await postInvite(c, { token });
    assert.equal(res.statusCode, 403, res.body);
    assert.equal(pageCode(res.body), 'sso_required');
    assert.equal(await memberOfOrg(email), false, 'no membership');
    assert.equal((await t.client().get(`/invite?token=${token}`)).statusCode, 200, 'still open');
  });
});
