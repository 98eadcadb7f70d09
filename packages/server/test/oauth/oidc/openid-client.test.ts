import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { type Client, type TestServer, testServer } from '../../helpers/harness.js';
import { browse, RP_LOGOUT, relyingParty, signInRequest } from './helpers.js';

/**
 * "Sign in with Latchkey" for an ordinary web app: openid-client, as an unmodified relying party,
 * completes discovery, code + PKCE, ID token validation, userinfo, refresh and logout.
 */
describe('openid-client as a relying party', () => {
  let t: TestServer;
  let browser: Client;
  let person: Awaited<ReturnType<Client['signup']>>;
  before(async () => {
    t = await testServer();
    browser = t.client();
    person = await browser.signup({ name: 'Ada Lovelace' });
  });
  after(async () => t?.close());

  for (const o of [{ confidential: false }, { confidential: true, alg: 'RS256' as const }]) {
    it(`signs in, reads userinfo, refreshes and logs out (${o.confidential ? `confidential, ${o.alg}` : 'public, ES256'})`, async () => {
      const { config } = await relyingParty(t, o);
      const meta = config.serverMetadata();
      assert.equal(meta.issuer, 'http://localhost:8484');
      assert.ok(meta.jwks_uri && meta.userinfo_endpoint && meta.end_session_endpoint);
      const req = await signInRequest(config, { scope: 'openid profile email offline_access' });
      const back = await browse(browser, req.url);
      assert.equal(back.origin + back.pathname, 'https://rp.example.com/callback', back.href);

      const tokens = await oidc.authorizationCodeGrant(config, back, {
        pkceCodeVerifier: req.verifier,
        expectedNonce: req.nonce,
        expectedState: req.state,
        idTokenExpected: true,
      });
      const claims = tokens.claims()!;
      assert.equal(claims.sub, person.user.id);
      assert.equal(claims.email, person.user.email);
      assert.equal(claims.email_verified, true);
      assert.equal(claims.name, 'Ada Lovelace');
      assert.equal(claims.org_id, person.org.id);
      assert.equal(claims.org_slug, person.org.slug);
      assert.deepEqual(claims.roles, ['owner']);
      assert.equal(typeof claims.auth_time, 'number');
      assert.ok(Array.isArray(claims.amr) && claims.amr.includes('pwd'), JSON.stringify(claims.amr));
      assert.equal(typeof claims.sid, 'string');
      const header = JSON.parse(Buffer.from(tokens.id_token!.split('.')[0]!, 'base64url').toString());
      assert.equal(header.alg, o.alg ?? 'ES256');

      const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
      assert.equal(info.email, person.user.email);
      assert.equal(info.org_slug, person.org.slug);

      assert.ok(tokens.refresh_token, 'a refresh token');
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      const again = refreshed.claims()!;
      assert.equal(again.sub, claims.sub);
      assert.equal(again.auth_time, claims.auth_time);
      assert.equal(again.nonce, undefined, 'no nonce on refresh');

      const logout = oidc.buildEndSessionUrl(config, {
        id_token_hint: refreshed.id_token!,
        post_logout_redirect_uri: RP_LOGOUT,
        state: 'bye',
      });
      const res = await browser.get(`${logout.pathname}${logout.search}`);
      assert.equal(res.statusCode, 303, res.body.slice(0, 300));
      assert.equal(res.headers.location, `${RP_LOGOUT}?state=bye`);
      assert.equal((await browser.get('/api/v1/me')).statusCode, 401, 'the session has ended');
      // Sign in again for the next case.
      const again2 = await browser.post('/api/auth/signin', {
        email: person.user.email,
        password: person.password,
      });
      assert.equal(again2.statusCode, 200, again2.body);
    });
  }
});
