import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestServer, testServer } from '../helpers/harness.js';
import {
  authorizeUrl,
  consent,
  form,
  formFields,
  MCP_URL,
  OAUTH_TOML,
  pkce,
  REDIRECT,
  register,
} from './helpers.js';
import { documentServer, redirectErrorOf } from './mcp-helpers.js';

const CURSOR = 'cursor://anysphere.cursor-mcp/oauth/callback';

function reg(
  t: TestServer,
  payload: Record<string, unknown>,
  ip = `10.95.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
) {
  return t.app.inject({ method: 'POST', url: '/api/oauth/register', payload, remoteAddress: ip });
}

describe('MCP clients: redirect URIs, resources, CORS, consent warnings', () => {
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

  it("registers Cursor's redirect URIs (private-use scheme, https, loopback) and completes a flow to cursor://", async () => {
    const res = await reg(t, {
      client_name: 'Cursor',
      redirect_uris: [CURSOR, 'https://cursor.example.com/callback', 'http://127.0.0.1:7777/callback'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
    });
    assert.equal(res.statusCode, 201, res.body);
    const client = res.json() as { client_id: string };
    const b = t.client();
    await b.signup();
    const p = pkce();
    const url = authorizeUrl({ clientId: client.client_id, redirectUri: CURSOR, challenge: p.challenge });
    const page = await b.get(url);
    assert.equal(page.statusCode, 200, page.body);
    // The consent page names the scheme the person is sent back to…
    assert.match(
      page.body,
      /opens <code class="scheme">cursor:<\/code> links \(<strong>anysphere\.cursor-mcp<\/strong>\)/,
    );
    // …and the form may end there (CSP form-action covers the redirect).
    assert.match(String(page.headers['content-security-policy']), /form-action 'self' cursor:/);
    const back = await consent(b, url);
    assert.equal(back.protocol, 'cursor:');
    assert.equal(back.host, 'anysphere.cursor-mcp');
    const code = back.searchParams.get('code')!;
    const tok = await form(t, '/api/oauth/token', {
      grant_type: 'authorization_code',
      code,
      redirect_uri: CURSOR,
      code_verifier: p.verifier,
      client_id: client.client_id,
      resource: MCP_URL,
    });
    assert.equal(tok.statusCode, 200, tok.body);
    // Exact match at authorize: another path, host or scheme is not the registered URI.
    for (const other of [
      'cursor://anysphere.cursor-mcp/oauth/callback/x',
      'cursor://evil.example/oauth/callback',
      'Cursor://anysphere.cursor-mcp/oauth/callback?x=1',
    ]) {
      const r = await b.get(authorizeUrl({ clientId: client.client_id, redirectUri: other }));
      assert.equal(r.statusCode, 400, other);
      assert.equal(r.headers.location, undefined);
    }
  });

  it('accepts a reverse-domain scheme without authority (RFC 8252 §7.1)', async () => {
    const res = await reg(t, {
      redirect_uris: ['com.example.app:/oauth2redirect'],
      token_endpoint_auth_method: 'none',
    });
    assert.equal(res.statusCode, 201, res.body);
  });

  for (const uri of [
    'javascript:alert(1)',
    'JavaScript://x/%0aalert(1)',
    'data:text/html,x',
    'file:///etc/passwd',
    'vbscript:msgbox',
    'blob:https://x.example/1',
    'about:blank',
    'http://evil.example/cb',
    'http://10.0.0.1/cb',
    'ws://127.0.0.1/cb',
    'chrome-extension://abc/cb',
    'mailto:a@example.com',
  ]) {
    it(`still refuses the redirect URI ${uri}`, async () => {
      const res = await reg(t, { redirect_uris: [uri], token_endpoint_auth_method: 'none' });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().error, 'invalid_redirect_uri');
    });
  }

  it('refuses a private-use scheme for a confidential client (RFC 8252 §8.4)', async () => {
    const res = await reg(t, { redirect_uris: [CURSOR], token_endpoint_auth_method: 'client_secret_basic' });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().error, 'invalid_redirect_uri');
  });

  it('matches the resource on its normalised URL at authorize and token (was invalid_target)', async () => {
    const b = t.client();
    await b.signup();
    const client = await register(t);
    for (const variant of ['HTTPS://MCP.EXAMPLE.COM/mcp', 'https://mcp.example.com:443/mcp']) {
      const p = pkce();
      const back = await consent(
        b,
        authorizeUrl({ clientId: client.client_id, resource: variant, challenge: p.challenge }),
      );
      const code = back.searchParams.get('code');
      assert.ok(code, back.href);
      const tok = await form(t, '/api/oauth/token', {
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT,
        code_verifier: p.verifier,
        client_id: client.client_id,
        resource: variant,
      });
      assert.equal(tok.statusCode, 200, tok.body);
      const info = await form(
        t,
        '/api/oauth/introspect',
        { token: tok.json().access_token },
        { basic: ['example-mcp', 'mcp-resource-secret-0123456789abcdef'] },
      );
      // The audience is the configured resource, whatever spelling the client used.
      assert.equal(info.json().aud, MCP_URL);
      const refreshed = await form(t, '/api/oauth/token', {
        grant_type: 'refresh_token',
        refresh_token: tok.json().refresh_token,
        client_id: client.client_id,
        resource: variant,
      });
      assert.equal(refreshed.statusCode, 200, refreshed.body);
    }
    // Another path or host is still another resource.
    for (const other of [
      'https://mcp.example.com/mcp/',
      'https://mcp.example.com/MCP',
      'https://mcp.example.org/mcp',
    ]) {
      assert.equal(
        redirectErrorOf(await b.get(authorizeUrl({ clientId: client.client_id, resource: other }))),
        'invalid_target',
        other,
      );
    }
  });

  it('answers the CORS preflight on /.well-known/* and allows mcp-protocol-version on the OAuth endpoints', async () => {
    for (const url of [
      '/.well-known/oauth-authorization-server',
      '/.well-known/openid-configuration',
      '/.well-known/oauth-protected-resource/api',
    ]) {
      const res = await t.app.inject({
        method: 'OPTIONS',
        url,
        headers: {
          origin: 'https://inspector.example',
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'mcp-protocol-version',
        },
      });
      assert.equal(res.statusCode, 204, `${url}: ${res.body}`);
      assert.equal(res.headers['access-control-allow-origin'], '*');
      assert.match(String(res.headers['access-control-allow-headers']), /mcp-protocol-version/);
      const get = await t.app.inject({ url, headers: { origin: 'https://inspector.example' } });
      assert.equal(get.headers['access-control-allow-origin'], '*');
    }
    for (const url of ['/api/oauth/token', '/api/oauth/register', '/api/oauth/revoke']) {
      const res = await t.app.inject({
        method: 'OPTIONS',
        url,
        headers: {
          origin: 'https://inspector.example',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'mcp-protocol-version, content-type, authorization',
        },
      });
      assert.equal(res.statusCode, 204, url);
      const allowed = String(res.headers['access-control-allow-headers']).split(/,\s*/);
      for (const h of ['authorization', 'content-type', 'mcp-protocol-version'])
        assert.ok(allowed.includes(h), `${url} ${h}`);
      assert.match(String(res.headers['access-control-allow-methods']), /POST/);
    }
  });

  it('warns on the consent page of a metadata-document client whose redirect URIs are all loopback', async () => {
    const b = t.client();
    await b.signup();
    const loopOnly = docs.serve('/loop.json', {
      client_name: 'Loopback Document',
      redirect_uris: ['http://127.0.0.1/callback', 'http://localhost:3000/cb'],
    });
    const page = await b.get(
      authorizeUrl({ clientId: loopOnly, redirectUri: 'http://127.0.0.1:5555/callback' }),
    );
    assert.equal(page.statusCode, 200, page.body);
    assert.match(page.body, /class="error loopback-warning"/);
    assert.match(page.body, /anyone can publish/);
    // Not for a document with a web redirect, nor for a registered loopback client.
    const mixed = docs.serve('/mixed.json', {
      client_name: 'Mixed Document',
      redirect_uris: ['http://127.0.0.1/callback', REDIRECT],
    });
    const page2 = await b.get(
      authorizeUrl({ clientId: mixed, redirectUri: 'http://127.0.0.1:5555/callback' }),
    );
    assert.equal(page2.statusCode, 200, page2.body);
    assert.doesNotMatch(page2.body, /loopback-warning/);
    const dcr = await register(t, { redirect_uris: ['http://127.0.0.1/callback'] });
    const page3 = await b.get(
      authorizeUrl({ clientId: dcr.client_id, redirectUri: 'http://127.0.0.1:5555/callback' }),
    );
    assert.doesNotMatch(page3.body, /loopback-warning/);
    assert.deepEqual(
      formFields(page.body).scopes.map((s) => s.value),
      formFields(page3.body).scopes.map((s) => s.value),
    );
  });
});
