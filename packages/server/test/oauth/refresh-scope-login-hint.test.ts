import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestServer, testServer } from '../helpers/harness.js';
import { authorizeUrl, form, introspect, OAUTH_TOML, tokensFor } from './helpers.js';

/**
 * A refresh's `scope` narrows like an authorization request (protocol scopes the grant does not
 * hold are dropped) yet never widens (RFC 6749 §6); and `login_hint` only prefills the sign-in page.
 */
describe('refresh scope narrowing and login_hint', () => {
  let t: TestServer;
  before(async () => {
    t = await testServer({ toml: OAUTH_TOML });
  });
  after(() => t.close());

  const refresh = (clientId: string, refreshToken: string, scope?: string) =>
    form(t, '/api/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: clientId,
      ...(scope !== undefined ? { scope } : {}),
    });

  it('drops offline_access and other protocol scopes the grant does not hold', async () => {
    const b = t.client();
    await b.signup();
    const { client, tokens } = await tokensFor(t, b, { scope: 'mcp:read mcp:write' });
    let rt = tokens.refresh_token!;
    for (const [scope, expected] of [
      ['offline_access', 'mcp:read mcp:write'],
      ['mcp:read offline_access', 'mcp:read'],
      ['openid profile email', 'mcp:read mcp:write'],
      ['mcp:write offline_access openid', 'mcp:write'],
    ] as const) {
      const res = await refresh(client.client_id, rt, scope);
      assert.equal(res.statusCode, 200, `${scope}: ${res.body}`);
      const body = res.json();
      assert.equal(body.scope, expected, scope);
      assert.equal(body.id_token, undefined, 'no ID token for a grant without openid');
      assert.equal((await introspect(t, body.access_token)).json().scope, expected);
      rt = body.refresh_token;
    }
    // Still never wider: after the narrowing above, the full grant remains available.
    const full = await refresh(client.client_id, rt);
    assert.equal(full.statusCode, 200, full.body);
    assert.equal(full.json().scope, 'mcp:read mcp:write');
  });

  it('refuses with invalid_scope a refresh that asks beyond the grant, and leaves the token usable', async () => {
    const b = t.client();
    await b.signup();
    const { client, tokens } = await tokensFor(t, b, { scope: 'mcp:read' });
    for (const scope of [
      'mcp:read mcp:write',
      'mcp:act',
      'mcp:read other:read',
      'org:delete offline_access',
    ]) {
      const res = await refresh(client.client_id, tokens.refresh_token!, scope);
      assert.equal(res.statusCode, 400, `${scope}: ${res.body}`);
      assert.equal(res.json().error, 'invalid_scope', scope);
    }
    const ok = await refresh(client.client_id, tokens.refresh_token!, 'offline_access');
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().scope, 'mcp:read');
  });

  it('honours openid on a refresh of an OpenID grant, with an ID token', async () => {
    const b = t.client();
    await b.signup();
    const { client, tokens } = await tokensFor(t, b, { scope: 'openid mcp:read' });
    assert.deepEqual(tokens.scope.split(' ').sort(), ['mcp:read', 'openid']);
    const res = await refresh(client.client_id, tokens.refresh_token!, 'openid mcp:read offline_access');
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(String(res.json().scope).split(' ').sort(), ['mcp:read', 'openid']);
    assert.ok(res.json().id_token, 'an OpenID grant refreshes with an ID token');
    const wider = await refresh(client.client_id, res.json().refresh_token, 'openid mcp:write');
    assert.equal(wider.json().error, 'invalid_scope');
  });

  it('prefills the sign-in email with login_hint, escaped, and signs in only whoever proves it', async () => {
    const owner = t.client();
    const { user } = await owner.signup();
    const { client } = await tokensFor(t, owner, { scope: 'mcp:read' });
    const stranger = t.client();
    const url = `${authorizeUrl({ clientId: client.client_id, scope: 'openid mcp:read' })}&login_hint=${encodeURIComponent(user.email)}`;
    const start = await stranger.get(url);
    assert.equal(start.statusCode, 303);
    const login = await stranger.get(start.headers.location as string);
    assert.equal(login.statusCode, 200);
    assert.match(login.body, new RegExp(`id="email"[^>]*value="${user.email.replace(/[.+]/g, '\\$&')}"`));
    // Not a sign-in: the authorization request still sends the browser to sign in.
    assert.equal((await stranger.get(url)).statusCode, 303);

    const evil = '"><script>alert(1)</script>@x.example';
    const hinted = await stranger.get(
      `/login?return_to=${encodeURIComponent(`/api/oauth/authorize?client_id=${client.client_id}&login_hint=${encodeURIComponent(evil)}`)}`,
    );
    assert.equal(hinted.statusCode, 200);
    assert.ok(!hinted.body.includes('<script>alert(1)'), 'the hint is escaped');
    assert.match(hinted.body, /id="email"[^>]*value="&#34;&#62;&#60;script&#62;/);
    // A hint that is no email address is not shown.
    const odd = await stranger.get(
      `/login?return_to=${encodeURIComponent(`/api/oauth/authorize?client_id=${client.client_id}&login_hint=not-an-address`)}`,
    );
    assert.equal(odd.statusCode, 200);
    assert.ok(!odd.body.includes('value="not-an-address"'));
  });
});
