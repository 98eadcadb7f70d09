import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestServer, testServer } from '../helpers/harness.js';
import {
  authorizeUrl,
  consent,
  form,
  formFields,
  introspect,
  MCP_URL,
  OAUTH_TOML,
  pkce,
  REDIRECT,
  register,
  tokensFor,
} from './helpers.js';

describe('authorization code flow', () => {
  let t: TestServer;
  before(async () => {
    t = await testServer({ toml: OAUTH_TOML });
  });
  after(() => t.close());

  it('sends a signed-out browser to /login and back to the same authorization request', async () => {
    const c = await register(t);
    const url = authorizeUrl({ clientId: c.client_id });
    const browser = t.client();
    const res = await browser.get(url);
    assert.equal(res.statusCode, 303);
    assert.equal(res.headers.location, `/login?return_to=${encodeURIComponent(url)}`);
    const { user } = await t.client().signup();
    const login = await browser.req({
      method: 'POST',
      url: '/login',
      body: new URLSearchParams({
        email: user.email,
        password: 'a sturdy passphrase 42',
        return_to: url,
      }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(login.statusCode, 303, login.body);
    assert.equal(login.headers.location, url);
    const page = await browser.get(url);
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /Test Client/);
  });

  it('shows each scope, high-risk ones unticked, and issues a code with state and iss', async () => {
    const browser = t.client();
    await browser.signup();
    const c = await register(t);
    const p = pkce();
    const url = authorizeUrl({
      clientId: c.client_id,
      scope: 'mcp:read mcp:act',
      challenge: p.challenge,
      state: 'xyz',
    });
    const page = await browser.get(url);
    assert.equal(page.statusCode, 200);
    assert.equal(page.headers['x-frame-options'], 'DENY');
    assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/);
    const f = formFields(page.body);
    assert.deepEqual(f.scopes, [
      { value: 'mcp:read', checked: true },
      { value: 'mcp:act', checked: false },
    ]);
    const back = await consent(browser, url, { tick: ['mcp:act'] });
    assert.equal(back.origin + back.pathname, REDIRECT);
    assert.equal(back.searchParams.get('state'), 'xyz');
    assert.equal(back.searchParams.get('iss'), 'http://localhost:8484');
    const code = back.searchParams.get('code')!;
    const res = await form(t, '/api/oauth/token', {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      code_verifier: p.verifier,
      client_id: c.client_id,
      resource: MCP_URL,
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    const body = res.json();
    assert.match(body.access_token, /^lk_at_/);
    assert.match(body.refresh_token, /^lk_rt_/);
    assert.equal(body.scope, 'mcp:read mcp:act');
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 3600);

    const info = (await introspect(t, body.access_token)).json();
    assert.equal(info.active, true);
    assert.equal(info.aud, MCP_URL);
    assert.equal(info.client_id, c.client_id);
    assert.equal(info.scope, 'mcp:read mcp:act');
  });

  it('rotates refresh tokens and revokes the family on reuse', async () => {
    const browser = t.client();
    await browser.signup();
    const { client, tokens } = await tokensFor(t, browser);
    const r1 = await form(t, '/api/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token!,
      client_id: client.client_id,
    });
    assert.equal(r1.statusCode, 200, r1.body);
    const next = r1.json();
    assert.notEqual(next.refresh_token, tokens.refresh_token);
    const reuse = await form(t, '/api/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token!,
      client_id: client.client_id,
    });
    assert.equal(reuse.statusCode, 400);
    assert.equal(reuse.json().error, 'invalid_grant');
    assert.deepEqual((await introspect(t, next.access_token)).json(), { active: false });
    const after = await form(t, '/api/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: next.refresh_token,
      client_id: client.client_id,
    });
    assert.equal(after.json().error, 'invalid_grant');
  });

  it("lets an access token for Latchkey's own API call /api/v1 as the person, in the consented org", async () => {
    const browser = t.client();
    const { user, org } = await browser.signup();
    const { tokens } = await tokensFor(t, browser, {
      resource: 'http://localhost:8484/api',
      scope: 'org:read members:read',
    });
    const me = await t.app.inject({
      method: 'GET',
      url: '/api/v1/org/members',
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    assert.equal(me.statusCode, 200, me.body);
    assert.equal(me.json().data[0].user_id, user.id);
    const other = await t.app.inject({
      method: 'GET',
      url: '/api/v1/audit',
      headers: { authorization: `Bearer ${tokens.access_token}`, 'x-org-id': org.id },
    });
    assert.equal(other.statusCode, 403);
    // A token for another resource is no credential here.
    const { tokens: mcp } = await tokensFor(t, browser);
    const refused = await t.app.inject({
      method: 'GET',
      url: '/api/v1/org',
      headers: { authorization: `Bearer ${mcp.access_token}` },
    });
    assert.equal(refused.statusCode, 401);
  });

  it('points an unauthenticated API caller at the protected resource metadata (RFC 9728 §5.1)', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/me' });
    assert.equal(res.statusCode, 401);
    const m = /resource_metadata="([^"]+)"/.exec(String(res.headers['www-authenticate']));
    assert.ok(m, String(res.headers['www-authenticate']));
    const doc = await t.app.inject({ method: 'GET', url: new URL(m[1]!).pathname });
    assert.equal(doc.statusCode, 200);
    assert.equal(doc.json().resource, 'http://localhost:8484/api');
    assert.deepEqual(doc.json().authorization_servers, ['http://localhost:8484']);
  });
});
