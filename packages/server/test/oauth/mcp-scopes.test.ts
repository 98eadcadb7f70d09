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
  OTHER_URL,
  REDIRECT,
  register,
  tokensFor,
} from './helpers.js';
import { documentServer, redirectErrorOf } from './mcp-helpers.js';

/**
 * Scope step-up and narrowing for MCP clients: a self-registered client is bounded by the
 * resource's scopes (consent is the control), an org admin's app by its configured list; scopes
 * that are not the resource's are dropped, and only a request with nothing of the resource left
 * is refused.
 */
describe('MCP scopes: step-up and narrowing', () => {
  let t: TestServer;
  let docs: Awaited<ReturnType<typeof documentServer>>;
  before(async () => {
    docs = await documentServer();
    t = await testServer({ toml: OAUTH_TOML, env: { CIMD_ALLOW_LOOPBACK: 'true' } });
  });
  after(async () => {
    await t.close();
    await docs.close();
  });

  const signedIn = async () => {
    const b = t.client();
    const s = await b.signup();
    return { b, ...s };
  };
  const consentScopes = async (b: ReturnType<TestServer['client']>, url: string) => {
    const page = await b.get(url);
    assert.equal(page.statusCode, 200, page.body);
    return formFields(page.body).scopes;
  };

  it('lets a DCR client that registered scope mcp:read step up to mcp:act (was invalid_scope)', async () => {
    const { b } = await signedIn();
    const client = await register(t, { scope: 'mcp:read' });
    const first = await tokensFor(t, b, { client, scope: 'mcp:read' });
    assert.equal(first.tokens.scope, 'mcp:read');
    const url = authorizeUrl({ clientId: client.client_id, scope: 'mcp:act' });
    // High-risk: offered, never pre-ticked.
    assert.deepEqual(await consentScopes(b, url), [{ value: 'mcp:act', checked: false }]);
    const stepped = await tokensFor(t, b, { client, scope: 'mcp:act', tick: ['mcp:act'] });
    assert.equal(stepped.tokens.scope, 'mcp:act');
    assert.equal((await introspect(t, stepped.tokens.access_token)).json().scope, 'mcp:act');
  });

  it('lets a metadata-document client declaring "scope" ask beyond it on its first authorization', async () => {
    const { b } = await signedIn();
    const clientId = docs.serve('/scoped.json', {
      client_name: 'Scoped Document Client',
      redirect_uris: [REDIRECT],
      scope: 'mcp:read',
    });
    const url = authorizeUrl({ clientId, scope: 'mcp:read mcp:write' });
    assert.deepEqual(await consentScopes(b, url), [
      { value: 'mcp:read', checked: true },
      { value: 'mcp:write', checked: true },
    ]);
    const back = await consent(b, url);
    assert.ok(back.searchParams.get('code'), back.href);
  });

  it("still enforces an org app's configured scopes as a ceiling", async () => {
    const { b, org } = await signedIn();
    const made = await b.post(
      '/api/v1/oauth/clients',
      { name: 'Ceiling App', type: 'public', redirect_uris: [REDIRECT], scopes: ['mcp:read'] },
      org.id,
    );
    assert.equal(made.statusCode, 201, made.body);
    const appId = made.json().client_id as string;
    assert.equal(
      redirectErrorOf(await b.get(authorizeUrl({ clientId: appId, scope: 'mcp:read mcp:act' }))),
      'invalid_scope',
    );
    // Narrowing still applies to what is not the resource's.
    assert.deepEqual(
      await consentScopes(b, authorizeUrl({ clientId: appId, scope: 'mcp:read offline_access org:delete' })),
      [{ value: 'mcp:read', checked: true }],
    );
  });

  it('drops offline_access and still issues a refresh token, as grant_types says', async () => {
    const { b } = await signedIn();
    const client = await register(t);
    const { tokens } = await tokensFor(t, b, { client, scope: 'offline_access mcp:read' });
    assert.equal(tokens.scope, 'mcp:read');
    assert.match(tokens.refresh_token ?? '', /^lk_rt_/);
    const noRefresh = await register(t, { grant_types: ['authorization_code'] });
    const second = await tokensFor(t, b, { client: noRefresh, scope: 'offline_access mcp:read' });
    assert.equal(second.tokens.refresh_token, undefined);
  });

  it("grants 'openid profile email' with a resource (mcp-remote's fallback) the resource's defaults and an ID token", async () => {
    const { b } = await signedIn();
    const client = await register(t);
    const defaults = ['mcp:read', 'mcp:write', 'mcp:run', 'mcp:clone:write', 'mcp:trace:read', 'mcp:debug'];
    const offered = await consentScopes(
      b,
      authorizeUrl({ clientId: client.client_id, scope: 'openid profile email' }),
    );
    assert.deepEqual(
      offered.filter((s) => s.value.startsWith('mcp:')).map((s) => s.value),
      defaults,
    );
    const { tokens } = await tokensFor(t, b, { client, scope: 'openid profile email' });
    const granted = tokens.scope.split(' ');
    assert.deepEqual(
      granted.filter((s) => s.startsWith('mcp:')),
      defaults,
    );
    assert.deepEqual(granted.filter((s) => !s.startsWith('mcp:')).sort(), ['email', 'openid', 'profile']);
    assert.ok(!granted.includes('mcp:act'), 'never a high-risk scope by default');
    const idToken = (tokens as { id_token?: string }).id_token;
    assert.ok(idToken, 'openid was asked: an ID token comes back');
    const claims = JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString()) as Record<
      string,
      unknown
    >;
    assert.equal(claims.aud, client.client_id);
    const seen = (await introspect(t, tokens.access_token)).json();
    assert.equal(seen.active, true);
    assert.equal(seen.aud, MCP_URL);
    assert.deepEqual(
      seen.scope.split(' ').filter((s: string) => s.startsWith('mcp:')),
      defaults,
    );

    // openid with a resource scope: that scope, not the defaults.
    const named = await tokensFor(t, b, { client, scope: 'openid mcp:read' });
    assert.deepEqual(named.tokens.scope.split(' ').sort(), ['mcp:read', 'openid']);
    assert.ok((named.tokens as { id_token?: string }).id_token);

    // Protocol scopes without openid: the defaults, pre-ticked (someone who consented to nothing yet).
    const fresh = await signedIn();
    for (const scope of ['offline_access', 'profile email']) {
      const scopes = await consentScopes(fresh.b, authorizeUrl({ clientId: client.client_id, scope }));
      assert.deepEqual(
        scopes.map((s) => s.value),
        defaults,
        scope,
      );
      assert.ok(scopes.every((s) => s.checked));
    }
  });

  it("narrows a copy of scopes_supported plus management scopes to the resource's, high-risk unticked", async () => {
    const { b } = await signedIn();
    const client = await register(t);
    const meta = (await t.app.inject({ url: '/.well-known/oauth-authorization-server' })).json();
    const asked = [...meta.scopes_supported, 'org:delete', 'tokens:manage', 'openid'].join(' ');
    const scopes = await consentScopes(b, authorizeUrl({ clientId: client.client_id, scope: asked }));
    assert.deepEqual(
      scopes.map((s) => s.value),
      [
        'mcp:read',
        'mcp:write',
        'mcp:run',
        'mcp:clone:write',
        'mcp:trace:read',
        'mcp:debug',
        'mcp:explore',
        'mcp:act',
        'mcp:identity',
      ],
    );
    for (const s of scopes)
      assert.equal(s.checked, !['mcp:explore', 'mcp:act', 'mcp:identity'].includes(s.value), s.value);
  });

  it('refuses with invalid_scope when nothing of the resource remains', async () => {
    const { b } = await signedIn();
    const client = await register(t);
    for (const scope of ['org:delete', 'other:read', 'other:read offline_access', 'made:up']) {
      assert.equal(
        redirectErrorOf(await b.get(authorizeUrl({ clientId: client.client_id, scope }))),
        'invalid_scope',
        scope,
      );
    }
  });

  it("bounds a DCR client's registered scope by the resource's scopes", async () => {
    const { b } = await signedIn();
    const client = await register(t, { scope: 'other:write mcp:read' });
    // Registered elsewhere is no key here: asking the MCP resource for other:write gets nothing.
    assert.equal(
      redirectErrorOf(await b.get(authorizeUrl({ clientId: client.client_id, scope: 'other:write' }))),
      'invalid_scope',
    );
    // Naming no scope: what it registered at this resource.
    assert.deepEqual(await consentScopes(b, authorizeUrl({ clientId: client.client_id })), [
      { value: 'mcp:read', checked: true },
    ]);
    // At the other resource, other:write is its scope but high-risk: offered unticked.
    assert.deepEqual(
      await consentScopes(
        b,
        authorizeUrl({ clientId: client.client_id, resource: OTHER_URL, scope: 'other:write' }),
      ),
      [{ value: 'other:write', checked: false }],
    );
  });

  it('accepts registration with openid and offline_access in scope, storing what Latchkey knows', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/oauth/register',
      payload: {
        redirect_uris: [REDIRECT],
        token_endpoint_auth_method: 'none',
        scope: 'openid offline_access mcp:read root',
      },
      remoteAddress: '10.77.0.1',
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().scope, 'openid offline_access mcp:read');
    const only = await t.app.inject({
      method: 'POST',
      url: '/api/oauth/register',
      payload: { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', scope: 'root' },
      remoteAddress: '10.77.0.2',
    });
    assert.equal(only.statusCode, 201, only.body);
    assert.equal(only.json().scope, undefined);
  });

  it('narrows device authorization requests the same way', async () => {
    const client = await register(t, {
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
      redirect_uris: [],
    });
    const ok = await form(t, '/api/oauth/device', {
      client_id: client.client_id,
      resource: MCP_URL,
      scope: 'offline_access mcp:read org:delete',
    });
    assert.equal(ok.statusCode, 200, ok.body);
    const none = await form(t, '/api/oauth/device', {
      client_id: client.client_id,
      resource: MCP_URL,
      scope: 'org:delete',
    });
    assert.equal(none.statusCode, 400);
    assert.equal(none.json().error, 'invalid_scope');
  });

  it('advertises no management scope in the authorization server metadata', async () => {
    const meta = (await t.app.inject({ url: '/.well-known/oauth-authorization-server' })).json();
    assert.ok(meta.scopes_supported.includes('mcp:read'));
    assert.ok(meta.scopes_supported.includes('other:read'));
    for (const s of ['org:delete', 'org:transfer', 'tokens:manage', 'members:manage', 'account:write'])
      assert.ok(!meta.scopes_supported.includes(s), s);
    // Latchkey's own API still lists its scopes in its resource metadata.
    const api = (await t.app.inject({ url: '/.well-known/oauth-protected-resource/api' })).json();
    assert.ok(api.scopes_supported.includes('org:read'));
  });
});
