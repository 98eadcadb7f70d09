import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import {
  DEFAULT_PASSWORD,
  lastMailTo,
  linkIn,
  PUBLIC_URL,
  type TestServer,
  testServer,
  tokenFrom,
} from '../helpers/harness.js';
import { systemClock } from '../../src/lib/clock.js';
import { plantToken } from '../helpers/planted-token.js';
import { Browser } from '../helpers/browser.js';
import { enabledConnection, orgWithDomain, pageCode, type SsoOrg, uniqueDomain } from './helpers.js';
import {
  ATTACKER_CERT,
  ATTACKER_KEY,
  IDP_CERT,
  IDP_KEY,
  idpMetadata,
  readAuthnRequest,
  samlResponse,
} from './saml-idp.js';

// Issue 14, step 4 and its neighbours: an org's SSO acts only on the addresses at the domains the
// org has verified. An attacker who owns an org, a verified domain of their own and an IdP key
// cannot sign in as anyone else; an org that lost a domain stops signing its people in through
// it; enforcement binds only the org's own addresses (no lockout of outsiders); a SAML response
// only signs in the browser that started that very sign-in, once.

let t: TestServer;
before(async () => {
  t = await testServer();
});
after(async () => t.close());

const BIND_COOKIE = 'lk_sso_bind';
let n = 0;
const victimEmail = () => `victim-${process.pid}-${++n}@victim.example`;

interface SamlOrg extends SsoOrg {
  conn: { id: string; saml: { sp_entity_id: string; acs_url: string } };
  key: string;
  cert: string;
}

/** An org with a verified domain of its own and an enabled SAML connection to an IdP it holds the key of. */
async function samlOrg(tag: string, idp: { key: string; cert: string }): Promise<SamlOrg> {
  const o = await orgWithDomain(t, uniqueDomain(tag));
  const conn = await enabledConnection(o, {
    kind: 'saml',
    name: `${tag} IdP`,
    saml_metadata_xml: idpMetadata(idp.cert),
  });
  return { ...o, conn, ...idp };
}

/** Starts an SSO sign-in at the org in browser `b`; returns the AuthnRequest and the RelayState. */
async function start(b: Browser, o: SamlOrg) {
  const res = await b.latchkey('GET', `/api/sso/start?org=${encodeURIComponent(o.slug)}`);
  assert.equal(res.statusCode, 302, res.body);
  return readAuthnRequest(String(res.headers.location));
}

/** The IdP's answer (signed with the org's IdP key) to request `id`, naming `email`. */
function answer(o: SamlOrg, inResponseTo: string, email: string) {
  return samlResponse({
    inResponseTo,
    audience: o.conn.saml.sp_entity_id,
    acs: o.conn.saml.acs_url,
    email,
    key: o.key,
    cert: o.cert,
  });
}

/**
 * The IdP page's cross-site form post to the ACS, from a browser holding `bindCookie` (the value
 * of the binding cookie, or none).
 */
async function postAcs(
  o: SamlOrg,
  body: { SAMLResponse: string; RelayState: string },
  bindCookie: string | undefined,
  ip = '10.66.0.1',
): Promise<LightMyRequestResponse> {
  return t.app.inject({
    method: 'POST',
    url: `/api/sso/saml/acs/${o.conn.id}`,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      origin: 'https://idp.example.test',
      ...(bindCookie ? { cookie: `${BIND_COOKIE}=${bindCookie}` } : {}),
    },
    remoteAddress: ip,
    payload: new URLSearchParams(body).toString(),
  });
}

/** The whole sign-in in one browser: start, the IdP answers for `email`, the post to the ACS. */
async function ssoSignIn(o: SamlOrg, email: string) {
  const b = new Browser(t);
  const req = await start(b, o);
  const res = await postAcs(
    o,
    { SAMLResponse: answer(o, req.id, email), RelayState: req.relayState },
    b.cookie(BIND_COOKIE),
    b.ip,
  );
  return res;
}

const sessionOf = (res: LightMyRequestResponse) =>
  (res.cookies as { name: string; value: string }[]).find((c) => c.name === 'lk_session' && c.value !== '')
    ?.value;

async function me(headers: Record<string, string>) {
  return t.app.inject({ url: '/api/v1/me', headers });
}

async function userByEmail(email: string) {
  return t.deps.db
    .selectFrom('users')
    .select(['id', 'email_verified_at', 'password_hash'])
    .where('email', '=', email)
    .executeTakeFirst();
}

async function linksOf(userId: string) {
  return t.deps.db
    .selectFrom('sso_identities')
    .select('connection_id')
    .where('user_id', '=', userId)
    .execute();
}

/** Invites `email` into the org and has its holder (`client`, signed in) accept. */
async function inviteAndAccept(o: SsoOrg, email: string, client: ReturnType<TestServer['client']>) {
  const inv = await o.owner.post('/api/v1/org/invitations', { email, role: 'member' }, o.orgId);
  assert.equal(inv.statusCode, 201, inv.body);
  const token = tokenFrom(linkIn((await lastMailTo(t.outboxDir, email)).text, `${PUBLIC_URL}/invite`));
  const ok = await client.post('/api/v1/invitations/accept', { token });
  assert.equal(ok.statusCode, 200, ok.body);
}

describe('SSO acts only on the org’s verified domains', () => {
  it('step 4: an attacker org’s IdP asserting a victim’s email (not a member) signs nobody in', async () => {
    const victim = t.client();
    const email = victimEmail();
    const v = await victim.signup({ email });
    const attacker = await samlOrg('attacker', { key: ATTACKER_KEY, cert: ATTACKER_CERT });
    // Claiming the victim's domain without proving it changes nothing.
    await attacker.owner.post('/api/v1/org/sso/domains', { domain: 'victim.example' }, attacker.orgId);

    const res = await ssoSignIn(attacker, email);
    assert.equal(res.statusCode, 403, res.body);
    assert.equal(pageCode(res.body), 'email_not_allowed');
    assert.equal(sessionOf(res), undefined, 'no session');
    assert.deepEqual(await linksOf(v.user.id), [], 'the victim is not linked to the attacker’s IdP');
    // The victim's own sign-in is untouched.
    assert.equal((await victim.get('/api/v1/me')).json().user.id, v.user.id);
  });

  it('step 4: an attacker org’s IdP asserting a victim who joined the org by invitation signs nobody in', async () => {
    const victim = t.client();
    const email = victimEmail();
    const v = await victim.signup({ email });
    const attacker = await samlOrg('attacker', { key: ATTACKER_KEY, cert: ATTACKER_CERT });
    await inviteAndAccept(attacker, email, victim);

    const res = await ssoSignIn(attacker, email);
    assert.equal(res.statusCode, 403, res.body);
    assert.equal(pageCode(res.body), 'email_not_allowed');
    assert.equal(sessionOf(res), undefined, 'no session');
    assert.deepEqual(await linksOf(v.user.id), []);
    // Nor by a NameID that is not an email, with the email in the attribute only.
    const b = new Browser(t);
    const req = await start(b, attacker);
    const other = samlResponse({
      inResponseTo: req.id,
      audience: attacker.conn.saml.sp_entity_id,
      acs: attacker.conn.saml.acs_url,
      email,
      nameId: 'opaque-subject-1',
      key: ATTACKER_KEY,
      cert: ATTACKER_CERT,
    });
    const res2 = await postAcs(
      attacker,
      { SAMLResponse: other, RelayState: req.relayState },
      b.cookie(BIND_COOKIE),
    );
    assert.equal(pageCode(res2.body), 'email_not_allowed');
    assert.equal(sessionOf(res2), undefined);
  });

  it('a known SSO identity whose org no longer holds the domain verified is refused', async () => {
    const o = await samlOrg('lost', { key: IDP_KEY, cert: IDP_CERT });
    const email = `ada@${o.domain}`;
    const first = await ssoSignIn(o, email);
    assert.equal(first.statusCode, 303, first.body);
    const user = await userByEmail(email);
    assert.ok(user);
    assert.equal((await linksOf(user.id)).length, 1);

    const gone = await o.owner.delete(`/api/v1/org/sso/domains/${o.domain}`, o.orgId);
    assert.equal(gone.statusCode, 204, gone.body);
    const again = await ssoSignIn(o, email);
    assert.equal(again.statusCode, 403, again.body);
    assert.equal(pageCode(again.body), 'account_outside_domains');
    assert.equal(sessionOf(again), undefined, 'no session');
  });

  describe('just-in-time provisioning × verified domain', () => {
    let on: SamlOrg;
    let off: SamlOrg;
    let offUnverified: string;
    let onUnverified: string;
    before(async () => {
      on = await samlOrg('jit-on', { key: IDP_KEY, cert: IDP_CERT });
      off = await samlOrg('jit-off', { key: IDP_KEY, cert: IDP_CERT });
      const patched = await off.owner.patch('/api/v1/org/sso', { jit_provisioning: false }, off.orgId);
      assert.equal(patched.statusCode, 200, patched.body);
      assert.equal(patched.json().jit_provisioning, false);
      // Each org also lists a domain it never proved.
      onUnverified = uniqueDomain('unproven');
      offUnverified = uniqueDomain('unproven');
      await on.owner.post('/api/v1/org/sso/domains', { domain: onUnverified }, on.orgId);
      await off.owner.post('/api/v1/org/sso/domains', { domain: offUnverified }, off.orgId);
    });

    it('on, verified domain, no account: the account and membership are created', async () => {
      const email = `new@${on.domain}`;
      const res = await ssoSignIn(on, email);
      assert.equal(res.statusCode, 303, res.body);
      const body = (await me({ cookie: `lk_session=${sessionOf(res)}` })).json();
      assert.equal(body.user.email, email);
      assert.ok(
        body.orgs.some((x: { id: string; role: string }) => x.id === on.orgId && x.role === 'member'),
      );
    });

    it('on, unverified domain: refused, no account', async () => {
      const email = `new@${onUnverified}`;
      const res = await ssoSignIn(on, email);
      assert.equal(res.statusCode, 403, res.body);
      assert.equal(pageCode(res.body), 'email_not_allowed');
      assert.equal(await userByEmail(email), undefined);
    });

    it('off, verified domain, no account: refused, no account', async () => {
      const email = `new@${off.domain}`;
      const res = await ssoSignIn(off, email);
      assert.equal(res.statusCode, 403, res.body);
      assert.equal(pageCode(res.body), 'no_account');
      assert.equal(sessionOf(res), undefined);
      assert.equal(await userByEmail(email), undefined);
    });

    it('off, unverified domain: refused, no account', async () => {
      const email = `new@${offUnverified}`;
      const res = await ssoSignIn(off, email);
      assert.equal(pageCode(res.body), 'email_not_allowed');
      assert.equal(await userByEmail(email), undefined);
    });

    it('off, verified domain: an existing member links; a non-member is refused until invited', async () => {
      const email = `pat@${off.domain}`;
      const person = t.client();
      const { user } = await person.signup({ email });
      const refused = await ssoSignIn(off, email);
      assert.equal(refused.statusCode, 403, refused.body);
      assert.equal(pageCode(refused.body), 'account_not_member');
      assert.deepEqual(await linksOf(user.id), []);

      // Accepting by the password session is refused (the org enforces SSO over the address); the
      // SSO sign-in itself accepts the invitation.
      const inv = await off.owner.post('/api/v1/org/invitations', { email, role: 'member' }, off.orgId);
      assert.equal(inv.statusCode, 201, inv.body);
      const token = tokenFrom(linkIn((await lastMailTo(t.outboxDir, email)).text, `${PUBLIC_URL}/invite`));
      const byPassword = await person.post('/api/v1/invitations/accept', { token });
      assert.equal(byPassword.statusCode, 403, byPassword.body);
      assert.equal(byPassword.json().code, 'sso_required');
      const ok = await ssoSignIn(off, email);
      assert.equal(ok.statusCode, 303, ok.body);
      assert.equal((await me({ cookie: `lk_session=${sessionOf(ok)}` })).json().user.id, user.id);
      assert.equal((await linksOf(user.id)).length, 1);
    });
  });

  it('a squatter’s unverified account at a verified domain: SSO proves the address and ends the squatter’s session, PAT and password', async () => {
    const o = await samlOrg('squat', { key: IDP_KEY, cert: IDP_CERT });
    const email = `ceo@${o.domain}`;
    const squatter = t.client();
    const { user } = await squatter.signup({ email, verify: false });
    assert.equal((await userByEmail(email))?.email_verified_at, null, 'never verified');
    // An account that has not proven its address may not mint tokens through the API, but accounts
    // made before that rule hold them: written straight to storage, as such an account has it.
    const patToken = await plantToken(t.deps.db, systemClock, {
      kind: 'pat',
      userId: user.id,
      name: 'kept for later',
      scopes: ['account:read'],
    });
    assert.equal((await me({ authorization: `Bearer ${patToken}` })).statusCode, 200);

    const res = await ssoSignIn(o, email);
    assert.equal(res.statusCode, 303, res.body);
    const body = (await me({ cookie: `lk_session=${sessionOf(res)}` })).json();
    assert.equal(body.user.id, user.id, 'the address’s owner holds the account now');
    const row = await userByEmail(email);
    assert.ok(row?.email_verified_at, 'the address is verified');
    assert.equal(row?.password_hash, null, 'the squatter’s password is gone');

    assert.equal((await squatter.get('/api/v1/me')).statusCode, 401, 'the squatter’s session ended');
    assert.equal((await me({ authorization: `Bearer ${patToken}` })).statusCode, 401, 'the PAT ended');
    const pw = await t.client().post('/api/auth/signin', { email, password: DEFAULT_PASSWORD });
    assert.equal(pw.statusCode, 401, pw.body);
    assert.equal(pw.json().code, 'invalid_credentials');
  });
});

describe('enforcement binds only the enforcing org’s verified domains', () => {
  it('lockout variant: an attacker org enforcing SSO cannot refuse a member’s own password', async () => {
    const attacker = await samlOrg('enforcer', { key: ATTACKER_KEY, cert: ATTACKER_CERT });
    const settings = await attacker.owner.get('/api/v1/org/sso', attacker.orgId);
    assert.equal(settings.json().enforcement_active, true, 'enforced, with an enabled connection');

    // A member by a legitimate invitation, and a person who never joined.
    const member = t.client();
    const memberEmail = victimEmail();
    await member.signup({ email: memberEmail });
    await inviteAndAccept(attacker, memberEmail, member);
    const outsider = victimEmail();
    await t.client().signup({ email: outsider });

    for (const email of [memberEmail, outsider]) {
      const pw = await t.client().post('/api/auth/signin', { email, password: DEFAULT_PASSWORD });
      assert.equal(pw.statusCode, 200, `${email}: ${pw.body}`);
    }
    // The org's own addresses stay bound.
    const own = await t
      .client()
      .post('/api/auth/signin', { email: attacker.ownerEmail, password: DEFAULT_PASSWORD });
    assert.equal(own.statusCode, 403, own.body);
    assert.equal(own.json().code, 'sso_required');
  });
});

describe('a SAML response signs in only the browser that started that sign-in, once', () => {
  let o: SamlOrg;
  before(async () => {
    o = await samlOrg('bind', { key: IDP_KEY, cert: IDP_CERT });
  });

  it('sets a short-lived HttpOnly binding cookie at the start', async () => {
    const b = new Browser(t);
    const res = await b.latchkey('GET', `/api/sso/start?org=${o.slug}`);
    const set = ([] as string[])
      .concat(res.headers['set-cookie'] ?? [])
      .find((c) => c.startsWith(`${BIND_COOKIE}=`));
    assert.ok(set, 'a binding cookie');
    assert.match(set, /HttpOnly/i);
    assert.match(set, /Path=\/api\/sso\//);
    assert.match(set, /Max-Age=600/);
    // Plain http (the harness): Lax, as SameSite=None needs Secure; see samlBindingCookie.
    assert.match(set, /SameSite=Lax/i);
  });

  it('posted into a browser with no binding cookie: refused', async () => {
    const email = `nocookie@${o.domain}`;
    const a = new Browser(t);
    const req = await start(a, o);
    const res = await postAcs(
      o,
      { SAMLResponse: answer(o, req.id, email), RelayState: req.relayState },
      undefined,
    );
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(pageCode(res.body), 'bad_state');
    assert.equal(sessionOf(res), undefined);
    assert.equal(await userByEmail(email), undefined, 'nobody was provisioned');
  });

  it('posted into another browser (its own cookie, the first browser’s RelayState): refused', async () => {
    const email = `other@${o.domain}`;
    const a = new Browser(t);
    const b = new Browser(t);
    const reqA = await start(a, o);
    await start(b, o);
    const res = await postAcs(
      o,
      { SAMLResponse: answer(o, reqA.id, email), RelayState: reqA.relayState },
      b.cookie(BIND_COOKIE),
    );
    assert.equal(pageCode(res.body), 'bad_state');
    assert.equal(sessionOf(res), undefined);
    assert.equal(await userByEmail(email), undefined);
  });

  it('a response to one browser’s request, posted into another browser’s own flow: refused', async () => {
    const email = `stolen@${o.domain}`;
    const a = new Browser(t);
    const b = new Browser(t);
    const reqA = await start(a, o);
    const reqB = await start(b, o);
    // b's cookie and RelayState are genuine, but the response answers a's request.
    const res = await postAcs(
      o,
      { SAMLResponse: answer(o, reqA.id, email), RelayState: reqB.relayState },
      b.cookie(BIND_COOKIE),
    );
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(pageCode(res.body), 'bad_state');
    assert.equal(sessionOf(res), undefined);
    assert.equal(await userByEmail(email), undefined);
  });

  it('a replayed response is refused, in the same browser and in a fresh one', async () => {
    const email = `replay@${o.domain}`;
    const a = new Browser(t);
    const req = await start(a, o);
    const body = { SAMLResponse: answer(o, req.id, email), RelayState: req.relayState };
    const cookie = a.cookie(BIND_COOKIE);
    const first = await postAcs(o, body, cookie);
    assert.equal(first.statusCode, 303, first.body);
    // The flow was consumed: the same post again finds nothing.
    const again = await postAcs(o, body, cookie);
    assert.equal(again.statusCode, 400, again.body);
    assert.equal(pageCode(again.body), 'bad_state');
    assert.equal(sessionOf(again), undefined);
    // Replayed into a fresh flow of another browser: the request it answers was answered already.
    const c = new Browser(t);
    const reqC = await start(c, o);
    const into = await postAcs(o, { ...body, RelayState: reqC.relayState }, c.cookie(BIND_COOKIE));
    assert.equal(into.statusCode, 400, into.body);
    assert.equal(pageCode(into.body), 'assertion_invalid');
    assert.equal(sessionOf(into), undefined);
  });
});
