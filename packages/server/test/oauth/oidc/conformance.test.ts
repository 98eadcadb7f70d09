// test-backend: embedded — the subject is protocol conformance, not storage
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { type Client, PUBLIC_URL, type TestServer, testServer } from '../../helpers/harness.js';
import { browse, RP_LOGOUT, RP_REDIRECT, relyingParty, signInRequest } from './helpers.js';

/**
 * Negative cases modelled on the OpenID conformance suite's Basic OP profile (oidcc-*): each gets
 * the error the specifications name, and changes nothing it should not.
 */
const decode = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString());
const path = (u: URL) => `${u.pathname}${u.search}`;

describe('OpenID Provider: Basic OP negative cases', () => {
  let t: TestServer;
  let ada: Client;
  let adaPerson: Awaited<ReturnType<Client['signup']>>;
  let bob: Client;
  let rp: Awaited<ReturnType<typeof relyingParty>>;

  before(async () => {
    t = await testServer();
    ada = t.client();
    adaPerson = await ada.signup({ name: 'Ada' });
    bob = t.client();
    await bob.signup({ name: 'Bob' });
    rp = await relyingParty(t);
  });
  after(async () => t?.close());

  /** Signs `who` in through the RP and exchanges the code (raw token response, plus the request). */
  async function signIn(who: Client, extra: Record<string, string> = {}) {
    const req = await signInRequest(rp.config, extra);
    if (extra.nonce === '') req.url.searchParams.delete('nonce');
    const back = await browse(who, req.url);
    return { req, back };
  }

  it('echoes the nonce; an RP expecting another nonce refuses the ID token (oidcc-ensure-request-... nonce)', async () => {
    const { req, back } = await signIn(ada);
    await assert.rejects(
      oidc.authorizationCodeGrant(rp.config, back, {
        pkceCodeVerifier: req.verifier,
        expectedNonce: 'not-the-nonce-sent',
        expectedState: req.state,
      }),
      (e: Error & { cause?: Error }) => /nonce/.test(e.cause?.message ?? ''),
    );
  });

  it('without a nonce in the request, the ID token has none (code flow: nonce optional)', async () => {
    const { req, back } = await signIn(ada, { nonce: '' });
    const tokens = await oidc.authorizationCodeGrant(rp.config, back, {
      pkceCodeVerifier: req.verifier,
      expectedState: req.state,
    });
    assert.equal(tokens.claims()!.nonce, undefined);
  });

  it('at_hash is present and is the left half of SHA-256 of the access token', async () => {
    const { req, back } = await signIn(ada);
    const tokens = await oidc.authorizationCodeGrant(rp.config, back, {
      pkceCodeVerifier: req.verifier,
      expectedNonce: req.nonce,
      expectedState: req.state,
    });
    const digest = createHash('sha256').update(tokens.access_token).digest();
    assert.equal(decode(tokens.id_token!).at_hash, digest.subarray(0, 16).toString('base64url'));
  });

  it('prompt=none without a session → login_required at the redirect URI', async () => {
    const req = await signInRequest(rp.config, { prompt: 'none' });
    const res = await t.client().get(path(req.url));
    assert.equal(res.statusCode, 303);
    const back = new URL(res.headers.location as string);
    assert.equal(back.origin + back.pathname, RP_REDIRECT);
    assert.equal(back.searchParams.get('error'), 'login_required');
    assert.equal(back.searchParams.get('state'), req.state);
  });

  it('max_age=0 sends a signed-in person to sign in again; the ID token says when', async () => {
    const req = await signInRequest(rp.config, { max_age: '0' });
    const first = await ada.get(path(req.url));
    assert.equal(first.statusCode, 303);
    const login = new URL(first.headers.location as string, PUBLIC_URL);
    assert.equal(login.pathname, '/login');
    assert.equal(login.searchParams.get('reauth'), '1');
    const page = await ada.get(path(login));
    assert.equal(page.statusCode, 200, 'the form, although a session exists');
    await new Promise((r) => setTimeout(r, 1100));
    const before = Math.floor(Date.now() / 1000);
    const signed = await ada.req({
      method: 'POST',
      url: '/login',
      body: new URLSearchParams({
        email: adaPerson.user.email,
        password: adaPerson.password,
        return_to: login.searchParams.get('return_to')!,
      }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(signed.statusCode, 303, signed.body.slice(0, 300));
    const back = await browse(ada, new URL(signed.headers.location as string, PUBLIC_URL));
    assert.ok(back.searchParams.get('code'), back.href);
    const tokens = await oidc.authorizationCodeGrant(rp.config, back, {
      pkceCodeVerifier: req.verifier,
      expectedNonce: req.nonce,
      expectedState: req.state,
      maxAge: 0,
    });
    assert.ok((tokens.claims()!.auth_time as number) >= before);
  });

  it('max_age=0 with prompt=none → login_required', async () => {
    const req = await signInRequest(rp.config, { max_age: '0', prompt: 'none' });
    const res = await ada.get(path(req.url));
    const back = new URL(res.headers.location as string);
    assert.equal(back.searchParams.get('error'), 'login_required');
  });

  it('an id_token_hint for another person → login_required (prompt=none), no code for them', async () => {
    const { req, back } = await signIn(bob);
    const bobTokens = await oidc.authorizationCodeGrant(rp.config, back, {
      pkceCodeVerifier: req.verifier,
      expectedNonce: req.nonce,
      expectedState: req.state,
    });
    const again = await signInRequest(rp.config, { prompt: 'none', id_token_hint: bobTokens.id_token! });
    const res = await ada.get(path(again.url));
    const to = new URL(res.headers.location as string);
    assert.equal(to.searchParams.get('error'), 'login_required');
    assert.equal(to.searchParams.get('code'), null);
    // Bob's own hint, in Bob's browser, goes straight through.
    const own = await bob.get(path(again.url));
    assert.ok(new URL(own.headers.location as string).searchParams.get('code'));
  });

  it('a replayed code → invalid_grant, and what the first exchange issued is revoked', async () => {
    const { req, back } = await signIn(ada);
    const tokens = await oidc.authorizationCodeGrant(rp.config, back, {
      pkceCodeVerifier: req.verifier,
      expectedNonce: req.nonce,
      expectedState: req.state,
    });
    await assert.rejects(
      oidc.authorizationCodeGrant(rp.config, back, {
        pkceCodeVerifier: req.verifier,
        expectedNonce: req.nonce,
        expectedState: req.state,
      }),
      (e: oidc.ResponseBodyError) => e.error === 'invalid_grant',
    );
    await assert.rejects(
      oidc.fetchUserInfo(rp.config, tokens.access_token, adaPerson.user.id),
      (e: Error) =>
        e instanceof oidc.WWWAuthenticateChallengeError && /invalid_token/.test(JSON.stringify(e.cause)),
    );
  });

  it('userinfo: no token → 401; a token without openid → 403 insufficient_scope; a bad token → 401 invalid_token', async () => {
    const none = await t.client().get('/api/oauth/userinfo');
    assert.equal(none.statusCode, 401);
    assert.match(String(none.headers['www-authenticate']), /^Bearer/);
    const bad = await t
      .client()
      .req({ url: '/api/oauth/userinfo', headers: { authorization: 'Bearer lk_at_nope' } });
    assert.equal(bad.statusCode, 401);
    assert.match(String(bad.headers['www-authenticate']), /invalid_token/);
    const { tokensFor } = await import('../helpers.js');
    const plain = await tokensFor(t, ada, { resource: `${PUBLIC_URL}/api`, scope: 'org:read' });
    const res = await t.client().req({
      url: '/api/oauth/userinfo',
      headers: { authorization: `Bearer ${plain.tokens.access_token}` },
    });
    assert.equal(res.statusCode, 403);
    assert.match(String(res.headers['www-authenticate']), /insufficient_scope/);
  });

  it('logout to an unregistered post_logout_redirect_uri is refused as a page; the session stays', async () => {
    const { req, back } = await signIn(ada);
    const tokens = await oidc.authorizationCodeGrant(rp.config, back, {
      pkceCodeVerifier: req.verifier,
      expectedNonce: req.nonce,
      expectedState: req.state,
    });
    for (const uri of ['https://evil.example.com/', `${RP_LOGOUT}/other`]) {
      const url = oidc.buildEndSessionUrl(rp.config, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: uri,
      });
      const res = await ada.get(path(url));
      assert.equal(res.statusCode, 400);
      assert.equal(res.headers.location, undefined);
    }
    assert.equal((await ada.get('/api/v1/me')).statusCode, 200, 'still signed in');
    // Without a hint naming her, a logout link asks before it ends anything.
    const bare = await ada.get(
      `/api/oauth/end-session?client_id=${rp.clientId}&post_logout_redirect_uri=${encodeURIComponent(RP_LOGOUT)}`,
    );
    assert.equal(bare.statusCode, 200);
    assert.match(bare.body, /Sign out of Latchkey/);
    assert.equal((await ada.get('/api/v1/me')).statusCode, 200, 'still signed in');
  });

  it('an ID token signed by a retired key after its grace is no longer a valid hint', async () => {
    const { req, back } = await signIn(ada);
    const tokens = await oidc.authorizationCodeGrant(rp.config, back, {
      pkceCodeVerifier: req.verifier,
      expectedNonce: req.nonce,
      expectedState: req.state,
    });
    const kid = JSON.parse(Buffer.from(tokens.id_token!.split('.')[0]!, 'base64url').toString()).kid;
    // Rotate, then let the retired key's grace run out.
    const { rotateKey } = await import('../../../src/oauth/oidc/keys.js');
    await rotateKey(t.deps.db, t.deps.clock, t.deps.config, 'ES256');
    await t.deps.db
      .updateTable('signing_keys')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('kid', '=', kid)
      .execute();
    await t.deps.cache.publish('latchkey:signing-keys', 'test');
    await new Promise((r) => setTimeout(r, 50));
    const jwks = (await t.client().get('/.well-known/jwks.json')).json() as { keys: { kid: string }[] };
    assert.ok(!jwks.keys.some((k) => k.kid === kid), 'no longer published');
    const again = await signInRequest(rp.config, { id_token_hint: tokens.id_token! });
    const res = await ada.get(path(again.url));
    const to = new URL(res.headers.location as string);
    assert.equal(to.searchParams.get('error'), 'invalid_request');
    const logout = oidc.buildEndSessionUrl(rp.config, { id_token_hint: tokens.id_token! });
    assert.equal((await ada.get(path(logout))).statusCode, 400);
  });

  it('registration: implicit or hybrid response types and a plain-http logout URI are refused', async () => {
    for (const payload of [
      { redirect_uris: [RP_REDIRECT], response_types: ['code id_token'] },
      { redirect_uris: [RP_REDIRECT], response_types: ['id_token'] },
      { redirect_uris: [RP_REDIRECT], post_logout_redirect_uris: ['http://rp.example.com/out'] },
      { redirect_uris: [RP_REDIRECT], id_token_signed_response_alg: 'none' },
    ]) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/oauth/register',
        payload: { token_endpoint_auth_method: 'none', ...payload },
        remoteAddress: '10.79.1.1',
      });
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
    }
  });
});
