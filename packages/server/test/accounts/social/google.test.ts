import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { PUBLIC_URL, type TestServer, testServer, uniqueEmail } from '../../helpers/harness.js';
import { Browser, loginError } from '../../helpers/browser.js';
import { actionsFor, identitiesOf, state, userByEmail } from './helpers.js';
import { googleAccount, type GoogleStandIn, startGoogle } from '../../helpers/stand-ins/google.js';

// Google sign-in end to end, against node-oidc-provider standing in for Google on 127.0.0.1:
// discovery, authorization code + PKCE + state + nonce, ID token checked, accounts made and joined
// only by verified email.

const REDIRECT = `${PUBLIC_URL}/api/auth/oauth/google/callback`;
let google: GoogleStandIn;
let t: TestServer;

before(async () => {
  google = await startGoogle(REDIRECT);
  t = await testServer({ env: google.env() });
});
after(async () => {
  await t.close();
  await google.stop();
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('Google sign-in', () => {
  it('the first sign-in creates the account and its personal org; the second signs into the same account', async () => {
    const email = uniqueEmail('grace');
    google.next = googleAccount(email);
    const b = new Browser(t);
    const start = await b.start('google', '/somewhere?x=1');
    assert.equal(start.statusCode, 302);
    const auth = new URL(String(start.headers.location));
    assert.equal(auth.origin, google.issuer);
    for (const p of ['state', 'nonce', 'code_challenge']) assert.ok(auth.searchParams.get(p), `${p} is sent`);
    assert.equal(auth.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(auth.searchParams.get('scope'), 'openid email profile');
    const tx = String(start.headers['set-cookie']);
    assert.match(tx, /lk_oauth_tx=[^;]+; Max-Age=600; Path=\/api\/auth\/oauth\/; HttpOnly; SameSite=Lax/);
    // The transaction's secrets stay on the server: the cookie is only an id.
    assert.ok(!tx.includes(auth.searchParams.get('state')!));

    const back = await b.throughProvider(auth.href);
    const res = await b.latchkey('GET', back);
    assert.equal(res.statusCode, 303, res.body);
    assert.equal(res.headers.location, '/somewhere?x=1');
    assert.equal(b.cookie('lk_oauth_tx'), undefined, 'the transaction cookie is cleared');
    const me = (await b.latchkey('GET', '/api/v1/me')).json();
    assert.equal(me.user.email, email);
    assert.equal(me.user.name, 'Grace Hopper');
    assert.equal(me.orgs.length, 1);
    assert.equal(me.orgs[0].role, 'owner');
    const user = (await userByEmail(t, email))!;
    assert.ok(user.email_verified_at, 'Google verified the address');
    assert.equal(user.password_hash, null);
    assert.deepEqual(await identitiesOf(t, user.id), [
      { provider: 'google', subject: google.next.sub, email, email_verified: true },
    ]);

    const again = new Browser(t);
    const second = await again.signInWith('google');
    assert.equal(second.statusCode, 303);
    assert.equal((await again.latchkey('GET', '/api/v1/me')).json().user.id, user.id);
    const actions = (await actionsFor(t, user.id)).map((a) => a.action);
    assert.equal(actions.filter((a) => a === 'user.signup').length, 1);
    assert.equal(actions.filter((a) => a === 'user.signin').length, 2);
    const signins = (await actionsFor(t, user.id)).filter((a) => a.action === 'user.signin');
    assert.ok(signins.every((s) => s.data.method === 'google'));
  });

  it('joins the existing account with the same, verified email', async () => {
    const email = uniqueEmail('joined');
    const owner = t.client();
    const { user } = await owner.signup({ email });
    google.next = googleAccount(email);
    const b = new Browser(t);
    assert.equal((await b.signInWith('google')).statusCode, 303);
    assert.equal((await b.latchkey('GET', '/api/v1/me')).json().user.id, user.id);
    assert.equal((await identitiesOf(t, user.id)).length, 1);
    const linked = (await actionsFor(t, user.id)).find((a) => a.action === 'identity.linked');
    assert.equal(linked?.data.via, 'verified_email');
  });

  it('refuses an email Google does not call verified (false, "false", or no claim): it neither joins an existing account nor creates one', async () => {
    const existing = uniqueEmail('victim');
    await t.client().signup({ email: existing });
    for (const verified of [false, 'false', 'unstated'] as const) {
      for (const email of [existing, uniqueEmail('fresh')]) {
        google.next = googleAccount(email, verified);
        const before0 = await state(t);
        const b = new Browser(t);
        const res = await b.signInWith('google');
        assert.equal(loginError(res), 'email_unverified', `${email}, email_verified ${verified}`);
        assert.equal(b.cookie('lk_session'), undefined);
        assert.deepEqual(await state(t), before0, 'nothing created');
      }
    }
  });

  it('takes email_verified "true" (a string) as verified, like true', async () => {
    const email = uniqueEmail('stringly');
    google.next = googleAccount(email, 'true');
    const b = new Browser(t);
    assert.equal((await b.signInWith('google')).statusCode, 303);
    assert.equal((await b.latchkey('GET', '/api/v1/me')).json().user.email, email);
    assert.ok((await userByEmail(t, email))?.email_verified_at, 'Google verified the address');
  });

  it('refuses a callback whose state does not match, one without its transaction, and a replay', async () => {
    google.next = googleAccount(uniqueEmail('state'));
    const before0 = await state(t);
    const b = new Browser(t);
    const back = new URL(await b.throughProvider(String((await b.start('google')).headers.location)));
    const forged = new URL(back);
    forged.searchParams.set('state', 'not-the-state');
    assert.equal(loginError(await b.latchkey('GET', forged.href)), 'bad_state');
    // The mismatch used the transaction up: the genuine callback now fails too.
    assert.equal(loginError(await b.latchkey('GET', back.href)), 'bad_state');
    // Login CSRF: a callback opened in a browser that did not start the flow.
    const other = new Browser(t);
    google.next = googleAccount(uniqueEmail('csrf'));
    const stolen = await b.throughProvider(String((await b.start('google')).headers.location));
    assert.equal(loginError(await other.latchkey('GET', stolen)), 'bad_state');
    assert.deepEqual(await state(t), before0);
  });

  it('the person saying no lands on the login page with access_denied', async () => {
    google.deny = true;
    try {
      const res = await new Browser(t).signInWith('google');
      assert.equal(loginError(res), 'access_denied');
    } finally {
      google.deny = false;
    }
  });

  it('an unreachable Google is a clear error on the login page, at the start and mid-flow, and creates nothing', async () => {
    const down = await testServer({
      env: { ...google.env(), GOOGLE_ISSUER: `http://127.0.0.1:${await closedPort()}` },
    });
    try {
      const res = await new Browser(down).start('google', '/after');
      assert.equal(loginError(res), 'provider_unreachable');
      assert.equal(
        res.headers.location,
        '/login?error=provider_unreachable&provider=google&return_to=%2Fafter',
      );
      const page = await new Browser(down).latchkey('GET', String(res.headers.location));
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /Google could not be reached\. Try again in a moment\./);
    } finally {
      await down.close();
    }

    // The provider goes away between the sign-in at Google and the code exchange.
    const g2 = await startGoogle(REDIRECT);
    const t2 = await testServer({ env: g2.env() });
    try {
      g2.next = googleAccount(uniqueEmail('midflow'));
      const before0 = await state(t2);
      const b = new Browser(t2);
      const back = await b.throughProvider(String((await b.start('google')).headers.location));
      await g2.stop();
      const res = await b.latchkey('GET', back);
      assert.equal(loginError(res), 'provider_unreachable');
      assert.deepEqual(await state(t2), before0);
    } finally {
      await t2.close();
    }
  });
});
