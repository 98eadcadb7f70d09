import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PUBLIC_URL, type TestServer, testServer, uniqueEmail } from '../../helpers/harness.js';
import { sha256Hex } from '../../../src/lib/secrets.js';
import { Browser, loginError } from '../../helpers/browser.js';
import { actionsFor, identitiesOf, state, userByEmail } from './helpers.js';
import { type GithubStandIn, githubUser, startGithub } from '../../helpers/stand-ins/github.js';
import { googleAccount, type GoogleStandIn, startGoogle } from '../../helpers/stand-ins/google.js';

// Linking and unlinking providers from account settings, and the ID token checks.

let gh: GithubStandIn;
let google: GoogleStandIn;
let t: TestServer;

before(async () => {
  gh = await startGithub();
  google = await startGoogle(`${PUBLIC_URL}/api/auth/oauth/google/callback`);
  t = await testServer({ env: { ...gh.env(), ...google.env() } });
});
after(async () => {
  await t.close();
  await gh.close();
  await google.stop();
});

/** A person signed up with a password, in a Browser. */
async function passwordPerson() {
  const b = new Browser(t);
  const email = uniqueEmail('linker');
  const res = await b.latchkey('POST', '/api/auth/signup', {
    email,
    name: 'Linker',
    password: 'a sturdy passphrase 42',
  });
  assert.equal(res.statusCode, 201);
  return { b, email, id: res.json().user.id as string };
}

async function link(b: Browser, provider: 'github' | 'google') {
  const res = await b.latchkey('POST', `/api/auth/oauth/${provider}/link`, { return_to: '/settings' });
  assert.equal(res.statusCode, 200, res.body);
  return b.latchkey('GET', await b.throughProvider(res.json().authorize_url));
}

describe('linking from account settings', () => {
  it('links GitHub and Google to the signed-in person, whatever their provider emails, and lists them', async () => {
    const { b, id } = await passwordPerson();
    gh.next = githubUser(uniqueEmail('other-address'), false);
    const res = await link(b, 'github');
    assert.equal(res.statusCode, 303);
    assert.equal(res.headers.location, '/settings');
    google.next = googleAccount(uniqueEmail('g-address'));
    assert.equal((await link(b, 'google')).statusCode, 303);
    const list = (await b.latchkey('GET', '/api/v1/me/identities')).json();
    assert.equal(list.has_password, true);
    assert.deepEqual(
      list.data.map((i: { provider: string; email_verified: boolean }) => [i.provider, i.email_verified]),
      [
        ['github', false],
        ['google', true],
      ],
    );
    assert.ok(
      (await actionsFor(t, id)).some((a) => a.action === 'identity.linked' && a.data.via === 'settings'),
    );
    // The linked GitHub account now signs this person in.
    const elsewhere = new Browser(t);
    assert.equal((await elsewhere.signInWith('github')).statusCode, 303);
    assert.equal((await elsewhere.latchkey('GET', '/api/v1/me')).json().user.id, id);
  });

  it('refuses a provider account that signs in someone else, and a second account at one provider', async () => {
    const first = await passwordPerson();
    const taken = githubUser(uniqueEmail('taken'));
    gh.next = taken;
    assert.equal((await link(first.b, 'github')).statusCode, 303);
    const second = await passwordPerson();
    const before0 = await state(t);
    gh.next = taken;
    assert.equal(loginError(await link(second.b, 'github')), 'identity_taken');
    gh.next = githubUser(uniqueEmail('another'));
    assert.equal(loginError(await link(first.b, 'github')), 'already_linked');
    assert.deepEqual(await state(t), before0);
    // The signed-in person sees the reason on a page, not a redirect loop.
    const page = await first.b.latchkey(
      'GET',
      '/login?error=already_linked&provider=github&return_to=%2Fsettings',
    );
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /already has a GitHub account linked/);
  });

  it('is CSRF-safe: a cross-site start is refused, and the callback must come back to the session that started it', async () => {
    const { b } = await passwordPerson();
    const forged = await t.app.inject({
      method: 'POST',
      url: '/api/auth/oauth/github/link',
      headers: { cookie: `lk_session=${b.cookie('lk_session')}`, origin: 'https://evil.example' },
      payload: {},
    });
    assert.equal(forged.statusCode, 403);
    assert.equal(forged.json().code, 'csrf');
    const anonymous = await new Browser(t).latchkey('POST', '/api/auth/oauth/github/link', {});
    assert.equal(anonymous.statusCode, 401);

    // Signed out between the start and the callback: the link is refused.
    const res = await b.latchkey('POST', '/api/auth/oauth/github/link', {});
    gh.next = githubUser(uniqueEmail('late'));
    const back = await b.throughProvider(res.json().authorize_url);
    await b.latchkey('POST', '/api/auth/signout');
    const before0 = await state(t);
    assert.equal(loginError(await b.latchkey('GET', back)), 'bad_state');
    assert.deepEqual(await state(t), before0);
  });
});

describe('unlinking', () => {
  it('removes an identity while another way to sign in remains, and refuses the last one with 409', async () => {
    // A person who only ever signed in with GitHub.
    const b = new Browser(t);
    const email = uniqueEmail('only-github');
    gh.next = githubUser(email);
    await b.signInWith('github');
    const user = (await userByEmail(t, email))!;
    let list = (await b.latchkey('GET', '/api/v1/me/identities')).json();
    assert.equal(list.has_password, false);
    const githubId = list.data[0].id;
    const refused = await b.latchkey('DELETE', `/api/v1/me/identities/${githubId}`);
    assert.equal(refused.statusCode, 409);
    assert.equal(refused.json().code, 'last_sign_in_method');
    assert.equal((await identitiesOf(t, user.id)).length, 1);

    google.next = googleAccount(uniqueEmail('g2'));
    await link(b, 'google');
    assert.equal((await b.latchkey('DELETE', `/api/v1/me/identities/${githubId}`)).statusCode, 204);
    list = (await b.latchkey('GET', '/api/v1/me/identities')).json();
    assert.deepEqual(
      list.data.map((i: { provider: string }) => i.provider),
      ['google'],
    );
    assert.equal((await b.latchkey('DELETE', `/api/v1/me/identities/${list.data[0].id}`)).statusCode, 409);
    // With a password set, the last identity can go.
    assert.equal(
      (await b.latchkey('POST', '/api/auth/password', { new_password: 'a brand new passphrase' })).statusCode,
      200,
    );
    assert.equal((await b.latchkey('DELETE', `/api/v1/me/identities/${list.data[0].id}`)).statusCode, 204);
    assert.ok((await actionsFor(t, user.id)).some((a) => a.action === 'identity.unlinked'));
  });

  it("another person's identity is not found", async () => {
    const a = await passwordPerson();
    gh.next = githubUser(uniqueEmail('mine'));
    await link(a.b, 'github');
    const theirs = (await a.b.latchkey('GET', '/api/v1/me/identities')).json().data[0].id;
    const other = await passwordPerson();
    const res = await other.b.latchkey('DELETE', `/api/v1/me/identities/${theirs}`);
    assert.equal(res.statusCode, 404);
    assert.equal((await identitiesOf(t, a.id)).length, 1);
  });
});

describe('ID token checks', () => {
  it('an ID token whose nonce does not match the transaction is refused', async () => {
    google.next = googleAccount(uniqueEmail('nonce'));
    const b = new Browser(t);
    const start = await b.start('google');
    // Change the nonce the server expects (as if the ID token had been minted for another flow).
    const key = `social:tx:${sha256Hex(b.cookie('lk_oauth_tx')!)}`;
    const tx = JSON.parse((await t.deps.cache.get(key))!);
    await t.deps.cache.set(key, JSON.stringify({ ...tx, nonce: 'another-nonce' }), 60_000);
    const before0 = await state(t);
    const res = await b.latchkey('GET', await b.throughProvider(String(start.headers.location)));
    assert.equal(loginError(res), 'provider_error');
    assert.deepEqual(await state(t), before0);
    assert.ok(
      t.logs.some((l) => l.includes('social sign-in failed') && l.includes('nonce')),
      'the log says why',
    );
    assert.ok(!t.logs.some((l) => l.includes(google.clientSecret)), 'no client secret in the logs');
  });
});
