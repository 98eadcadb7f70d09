import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  DEFAULT_PASSWORD,
  followLink,
  lastMailTo,
  linkIn,
  PUBLIC_URL,
  type TestServer,
  testServer,
  uniqueEmail,
} from '../../helpers/harness.js';
import { Browser, loginError } from '../../helpers/browser.js';
import { actionsFor, identitiesOf, state, userByEmail } from './helpers.js';
import { type GithubStandIn, githubUser, startGithub } from '../../helpers/stand-ins/github.js';

// GitHub sign-in end to end, against a local server speaking GitHub's OAuth and REST API.

let gh: GithubStandIn;
let t: TestServer;

before(async () => {
  gh = await startGithub();
  t = await testServer({ env: gh.env() });
});
after(async () => {
  await t.close();
  await gh.close();
});

describe('GitHub sign-in', () => {
  it('the first sign-in creates the account and its personal org; the second signs into the same account', async () => {
    const email = uniqueEmail('octo');
    gh.next = githubUser(email, true, { name: 'Mona Lisa' });
    const b = new Browser(t);
    const start = await b.start('github');
    assert.equal(start.statusCode, 302);
    const auth = new URL(String(start.headers.location));
    assert.equal(auth.searchParams.get('redirect_uri'), `${PUBLIC_URL}/api/auth/oauth/github/callback`);
    assert.equal(auth.searchParams.get('scope'), 'read:user user:email');
    const res = await b.latchkey('GET', await b.throughProvider(auth.href));
    assert.equal(res.statusCode, 303, res.body);
    assert.equal(res.headers.location, '/');
    // The code was redeemed with the client secret and the PKCE verifier.
    const tokenReq = gh.tokenRequests.at(-1)!;
    assert.equal(tokenReq.get('client_secret'), gh.clientSecret);
    assert.ok(tokenReq.get('code_verifier'));

    const me = (await b.latchkey('GET', '/api/v1/me')).json();
    assert.equal(me.user.email, email);
    assert.equal(me.user.name, 'Mona Lisa');
    assert.equal(me.orgs.length, 1);
    const user = (await userByEmail(t, email))!;
    assert.deepEqual(await identitiesOf(t, user.id), [
      { provider: 'github', subject: String(gh.next.id), email, email_verified: true },
    ]);

    const second = new Browser(t);
    assert.equal((await second.signInWith('github')).statusCode, 303);
    assert.equal((await second.latchkey('GET', '/api/v1/me')).json().user.id, user.id);
    const actions = await actionsFor(t, user.id);
    assert.deepEqual(
      actions.filter((a) => a.action === 'user.signup').map((a) => a.data),
      [{ via: 'github', admitted: 'open' }],
    );
    assert.equal(actions.filter((a) => a.action === 'user.signin').length, 2);
  });

  it('a GitHub account whose email changed still signs into the account it is linked to', async () => {
    const first = uniqueEmail('mover');
    gh.next = githubUser(first);
    await new Browser(t).signInWith('github');
    const user = (await userByEmail(t, first))!;
    gh.next = { ...gh.next, emails: [{ email: uniqueEmail('moved'), primary: true, verified: false }] };
    const b = new Browser(t);
    assert.equal((await b.signInWith('github')).statusCode, 303);
    assert.equal((await b.latchkey('GET', '/api/v1/me')).json().user.id, user.id);
  });

  it('joins an account with the same verified email; a proven account keeps its password', async () => {
    const email = uniqueEmail('proven');
    const c = t.client();
    const { user } = await c.signup({ email });
    // The person proves the address with a magic link.
    await c.post('/api/auth/magic-link', { email });
    const link = linkIn(
      (await lastMailTo(t.outboxDir, email)).text,
      `${PUBLIC_URL}/api/auth/magic-link/callback`,
    );
    assert.equal((await followLink(c, link)).statusCode, 303);
    gh.next = githubUser(email);
    const b = new Browser(t);
    assert.equal((await b.signInWith('github')).statusCode, 303);
    assert.equal((await b.latchkey('GET', '/api/v1/me')).json().user.id, user.id);
    assert.equal(
      (await t.client().post('/api/auth/signin', { email, password: DEFAULT_PASSWORD })).statusCode,
      200,
      'the password still works',
    );
  });

  it('joining an account that never proved its email ends whatever credentials its maker holds', async () => {
    // Someone signed up with an address that is not theirs; its owner arrives through GitHub.
    const email = uniqueEmail('squatted');
    const squatter = t.client();
    const { user } = await squatter.signup({ email, verify: false });
    gh.next = githubUser(email);
    const owner = new Browser(t);
    assert.equal((await owner.signInWith('github')).statusCode, 303);
    assert.equal((await owner.latchkey('GET', '/api/v1/me')).json().user.id, user.id);
    assert.equal((await squatter.get('/api/v1/me')).statusCode, 401, "the squatter's session ended");
    assert.equal(
      (await t.client().post('/api/auth/signin', { email, password: DEFAULT_PASSWORD })).statusCode,
      401,
      'the unproven password is gone',
    );
    const ev = (await actionsFor(t, user.id)).find((a) => a.action === 'user.email_verified');
    assert.equal(ev?.data.password_cleared, true);
  });

  it('refuses an unverified primary email: no takeover of the account with that email, no new account', async () => {
    const existing = uniqueEmail('target');
    const { user } = await t.client().signup({ email: existing });
    for (const email of [existing, uniqueEmail('unproven')]) {
      gh.next = githubUser(email, false);
      const before0 = await state(t);
      const res = await new Browser(t).signInWith('github');
      assert.equal(loginError(res), 'email_unverified', email);
      assert.deepEqual(await state(t), before0, 'nothing created or linked');
    }
    assert.deepEqual(await identitiesOf(t, user.id), []);
    // A verified secondary address does not stand in for the unverified primary one.
    gh.next = githubUser(existing, false);
    gh.next.emails.push({ email: uniqueEmail('secondary'), primary: false, verified: true });
    assert.equal(loginError(await new Browser(t).signInWith('github')), 'email_unverified');
  });

  it('refuses a state mismatch, a callback without its transaction, and a replay — creating nothing', async () => {
    gh.next = githubUser(uniqueEmail('state'));
    const before0 = await state(t);
    const b = new Browser(t);
    const back = new URL(await b.throughProvider(String((await b.start('github')).headers.location)));
    const forged = new URL(back);
    forged.searchParams.set('state', `${back.searchParams.get('state')}x`);
    assert.equal(loginError(await b.latchkey('GET', forged.href)), 'bad_state');
    assert.equal(loginError(await b.latchkey('GET', back.href)), 'bad_state', 'the transaction was used up');
    const fresh = await b.throughProvider(String((await b.start('github')).headers.location));
    assert.equal(loginError(await new Browser(t).latchkey('GET', fresh)), 'bad_state', 'login CSRF');
    assert.equal((await b.latchkey('GET', fresh)).statusCode, 303);
    assert.equal(loginError(await b.latchkey('GET', fresh)), 'bad_state', 'replay');
    assert.notDeepEqual(await state(t), before0, 'only the genuine callback signed in');
  });

  it('a denial at GitHub lands on the login page with access_denied', async () => {
    gh.deny = true;
    try {
      assert.equal(loginError(await new Browser(t).signInWith('github')), 'access_denied');
    } finally {
      gh.deny = false;
    }
  });

  it('a refused code exchange is a provider error', async () => {
    const wrong = await testServer({ env: { ...gh.env(), GITHUB_CLIENT_SECRET: 'not-the-secret' } });
    try {
      gh.next = githubUser(uniqueEmail('secret'));
      assert.equal(loginError(await new Browser(wrong).signInWith('github')), 'provider_error');
    } finally {
      await wrong.close();
    }
  });

  it('GitHub unreachable at the token endpoint: the login page says so, and nothing is created', async () => {
    const down = await testServer({
      env: { ...gh.env(), GITHUB_TOKEN_URL: 'http://127.0.0.1:9/login/oauth/access_token' },
    });
    try {
      gh.next = githubUser(uniqueEmail('down'));
      const before0 = await state(down);
      const b = new Browser(down);
      const res = await b.signInWith('github');
      assert.equal(loginError(res), 'provider_unreachable');
      assert.deepEqual(await state(down), before0);
      const page = await b.latchkey('GET', String(res.headers.location));
      assert.match(page.body, /GitHub could not be reached\. Try again in a moment\./);
    } finally {
      await down.close();
    }
  });
});

describe('the login page', () => {
  it('offers the configured providers only', async () => {
    const page = await t.client().get('/login?return_to=%2Fapp%2F');
    assert.match(
      page.body,
      /href="\/api\/auth\/oauth\/github\/start\?return_to&#61;%2Fapp%2F"[^>]*>Sign in with GitHub/,
    );
    assert.doesNotMatch(page.body, /Sign in with Google/);
    const plain = await testServer();
    try {
      assert.doesNotMatch((await plain.client().get('/login')).body, /Sign in with (GitHub|Google)/);
      const res = await plain.client().get('/api/auth/oauth/github/start');
      assert.equal(res.statusCode, 404);
      assert.equal(res.json().code, 'not_found');
    } finally {
      await plain.close();
    }
  });

  it('says each callback error in words, and never echoes the query', async () => {
    const said = async (q: string) => (await t.client().get(`/login?${q}`)).body;
    assert.match(
      await said('error=bad_state&provider=github'),
      /expired or was not started from this browser/,
    );
    assert.match(await said('error=waitlisted&provider=google'), /role="status">Thanks: new accounts need/);
    for (const q of [
      'error=%3Cscript%3Ealert(1)%3C%2Fscript%3E',
      'error=toString',
      'error=bad_state&provider=%3Cb%3E',
    ]) {
      const body = await said(q);
      assert.doesNotMatch(body, /<script>alert|<b>/);
      assert.match(body, /role="alert">/);
    }
    assert.match(await said('error=__proto__'), /Sign-in failed\. Try again\./);
  });
});
