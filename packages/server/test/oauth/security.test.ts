import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { type TestServer, testServer } from '../helpers/harness.js';
import {
  authorizeUrl,
  consent,
  form,
  formFields,
  introspect,
  MCP_URL,
  OAUTH_TOML,
  OTHER_ID,
  OTHER_SECRET,
  pkce,
  REDIRECT,
  register,
  tokensFor,
} from './helpers.js';

/** One server for the file: starting one costs seconds, and every test makes its own clients. */
let t: TestServer;
before(async () => {
  t = await testServer({ toml: OAUTH_TOML });
});
after(() => t.close());
function useServer() {}

function assertOAuthError(res: LightMyRequestResponse, status: number, error: string) {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.equal(res.headers['cache-control'], 'no-store');
  const body = res.json() as { error: string; error_description: string };
  assert.equal(body.error, error, res.body);
  assert.equal(typeof body.error_description, 'string');
}

/** The redirect an authorization error produces, checked to be back at the client with state and iss. */
function redirectError(res: LightMyRequestResponse, error: string) {
  assert.equal(res.statusCode, 303, res.body);
  const back = new URL(res.headers.location as string);
  assert.equal(back.origin + back.pathname, REDIRECT);
  assert.equal(back.searchParams.get('error'), error, back.href);
  assert.equal(back.searchParams.get('state'), 'st-123');
  assert.equal(back.searchParams.get('iss'), 'http://localhost:8484');
  assert.equal(back.searchParams.get('code'), null);
}

/** A page, never a redirect: the error was found before the redirect URI could be trusted. */
function refusedPage(res: LightMyRequestResponse) {
  assert.equal(res.statusCode, 400, res.body);
  assert.equal(res.headers.location, undefined);
  assert.match(String(res.headers['content-type']), /^text\/html/);
}

async function signedIn() {
  const b = t.client();
  await b.signup();
  return b;
}

async function codeFor(o: { clientId: string; challenge: string; redirectUri?: string }) {
  const b = await signedIn();
  const back = await consent(
    b,
    authorizeUrl({ clientId: o.clientId, challenge: o.challenge, redirectUri: o.redirectUri }),
  );
  const code = back.searchParams.get('code');
  assert.ok(code, back.href);
  return code;
}

const exchange = (
  clientId: string,
  code: string,
  verifier: string | undefined,
  extra: Record<string, string> = {},
) =>
  form(t, '/api/oauth/token', {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT,
    client_id: clientId,
    resource: MCP_URL,
    ...(verifier !== undefined ? { code_verifier: verifier } : {}),
    ...extra,
  });

describe('PKCE', () => {
  useServer();

  it('refuses an authorization request without a challenge, with plain, or without a method', async () => {
    const c = await register(t);
    const b = await signedIn();
    const base = new URLSearchParams(new URL(authorizeUrl({ clientId: c.client_id }), 'http://x').search);
    for (const change of [
      (q: URLSearchParams) => q.delete('code_challenge'),
      (q: URLSearchParams) => q.set('code_challenge_method', 'plain'),
      (q: URLSearchParams) => q.delete('code_challenge_method'),
      (q: URLSearchParams) => q.set('code_challenge', 'short'),
    ]) {
      const q = new URLSearchParams(base);
      change(q);
      redirectError(await b.get(`/api/oauth/authorize?${q}`), 'invalid_request');
    }
  });

  it('refuses a wrong or missing code_verifier at the token endpoint', async () => {
    const c = await register(t);
    const p = pkce();
    const code = await codeFor({ clientId: c.client_id, challenge: p.challenge });
    assertOAuthError(await exchange(c.client_id, code, undefined), 400, 'invalid_request');
    assertOAuthError(await exchange(c.client_id, code, pkce().verifier), 400, 'invalid_grant');
    // The verifier's own format is checked too.
    assertOAuthError(await exchange(c.client_id, code, 'x'.repeat(20)), 400, 'invalid_grant');
  });
});

describe('authorization codes', () => {
  useServer();

  it('a replayed code is refused and revokes everything the first exchange issued', async () => {
    const c = await register(t);
    const p = pkce();
    const code = await codeFor({ clientId: c.client_id, challenge: p.challenge });
    const first = await exchange(c.client_id, code, p.verifier);
    assert.equal(first.statusCode, 200, first.body);
    const tokens = first.json();
    assert.equal((await introspect(t, tokens.access_token)).json().active, true);
    assertOAuthError(await exchange(c.client_id, code, p.verifier), 400, 'invalid_grant');
    assert.deepEqual((await introspect(t, tokens.access_token)).json(), { active: false });
    const refresh = await form(t, '/api/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
      client_id: c.client_id,
    });
    assertOAuthError(refresh, 400, 'invalid_grant');
    const rows = await t.deps.db
      .selectFrom('audit_events')
      .select('action')
      .where('action', '=', 'oauth.code_replayed')
      .execute();
    assert.ok(rows.length >= 1);
  });

  it('a code presented by another client is refused', async () => {
    const a = await register(t);
    const other = await register(t);
    const p = pkce();
    const code = await codeFor({ clientId: a.client_id, challenge: p.challenge });
    assertOAuthError(await exchange(other.client_id, code, p.verifier), 400, 'invalid_grant');
    // …and the rightful client can still use it.
    assert.equal((await exchange(a.client_id, code, p.verifier)).statusCode, 200);
  });

  it('an expired code is refused', async () => {
    const { manualClock } = await import('../../src/lib/clock.js');
    const clock = manualClock(new Date());
    const s = await testServer({ toml: OAUTH_TOML, clock });
    try {
      const c = await (async () => {
        const res = await s.app.inject({
          method: 'POST',
          url: '/api/oauth/register',
          payload: { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' },
        });
        return res.json() as { client_id: string };
      })();
      const b = s.client();
      await b.signup();
      const p = pkce();
      const back = await consent(b, authorizeUrl({ clientId: c.client_id, challenge: p.challenge }));
      clock.advance(61_000);
      const res = await form(s, '/api/oauth/token', {
        grant_type: 'authorization_code',
        code: back.searchParams.get('code')!,
        redirect_uri: REDIRECT,
        client_id: c.client_id,
        resource: MCP_URL,
        code_verifier: p.verifier,
      });
      assertOAuthError(res, 400, 'invalid_grant');
    } finally {
      await s.close();
    }
  });
});

describe('redirect URIs', () => {
  useServer();

  for (const bad of [
    'https://client.example.com/callbackX',
    'https://client.example.com/Callback',
    'https://CLIENT.example.com/callback',
    'https://client.example.com/callback/x',
    'https://client.example.com/callback?a=1',
    'https://client.example.com/callback/',
    'https://evil.example/callback',
    'http://client.example.com/callback',
    'https://client.example.com:444/callback',
  ]) {
    it(`refuses ${bad} on a page, never redirecting to it`, async () => {
      const c = await register(t);
      const b = await signedIn();
      refusedPage(await b.get(authorizeUrl({ clientId: c.client_id, redirectUri: bad })));
    });
  }

  it('refuses a missing or repeated redirect_uri, and an unknown client, on a page', async () => {
    const c = await register(t);
    const b = await signedIn();
    const url = authorizeUrl({ clientId: c.client_id });
    refusedPage(await b.get(url.replace(/redirect_uri=[^&]+&?/, '')));
    refusedPage(await b.get(`${url}&redirect_uri=${encodeURIComponent(REDIRECT)}`));
    refusedPage(await b.get(authorizeUrl({ clientId: 'lkc_00000000000000000000000000000000' })));
    refusedPage(await b.get(`${url}&client_id=${c.client_id}`));
  });

  it('matches a loopback redirect URI on any port, but nothing else about it', async () => {
    const c = await register(t, { redirect_uris: ['http://127.0.0.1/cb'] });
    const b = await signedIn();
    assert.equal(
      (await b.get(authorizeUrl({ clientId: c.client_id, redirectUri: 'http://127.0.0.1:53111/cb' })))
        .statusCode,
      200,
    );
    refusedPage(
      await b.get(authorizeUrl({ clientId: c.client_id, redirectUri: 'http://127.0.0.1:53111/other' })),
    );
    refusedPage(
      await b.get(authorizeUrl({ clientId: c.client_id, redirectUri: 'http://localhost:53111/cb' })),
    );
  });

  it("the token request must name the authorization's redirect_uri", async () => {
    const c = await register(t, { redirect_uris: [REDIRECT, 'https://client.example.com/other'] });
    const p = pkce();
    const code = await codeFor({ clientId: c.client_id, challenge: p.challenge });
    assertOAuthError(
      await exchange(c.client_id, code, p.verifier, { redirect_uri: 'https://client.example.com/other' }),
      400,
      'invalid_grant',
    );
  });
});

describe('resource indicators', () => {
  useServer();

  it('refuses a missing or unknown resource at authorization', async () => {
    const c = await register(t);
    const b = await signedIn();
    const url = authorizeUrl({ clientId: c.client_id });
    redirectError(await b.get(url.replace(/resource=[^&]+&?/, '')), 'invalid_target');
    redirectError(
      await b.get(authorizeUrl({ clientId: c.client_id, resource: 'https://unknown.example/mcp' })),
      'invalid_target',
    );
    redirectError(
      await b.get(authorizeUrl({ clientId: c.client_id, resource: `${MCP_URL}/` })),
      'invalid_target',
    );
  });

  it('refuses a missing or different resource at the token endpoint', async () => {
    const c = await register(t);
    const p = pkce();
    const code = await codeFor({ clientId: c.client_id, challenge: p.challenge });
    const noResource = await form(t, '/api/oauth/token', {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      client_id: c.client_id,
      code_verifier: p.verifier,
    });
    assertOAuthError(noResource, 400, 'invalid_target');
    assertOAuthError(
      await exchange(c.client_id, code, p.verifier, { resource: 'https://other.example.com/api' }),
      400,
      'invalid_target',
    );
  });

  it("a token for one resource is inactive to another resource's introspection", async () => {
    const b = await signedIn();
    const { tokens } = await tokensFor(t, b);
    assert.deepEqual((await introspect(t, tokens.access_token, [OTHER_ID, OTHER_SECRET])).json(), {
      active: false,
    });
    const mine = (await introspect(t, tokens.access_token)).json();
    assert.equal(mine.active, true);
    assert.equal(mine.aud, MCP_URL);
    // A resource server never sees refresh tokens as active.
    assert.deepEqual((await introspect(t, tokens.refresh_token!)).json(), { active: false });
    const wrong = await introspect(t, tokens.access_token, [
      OTHER_ID,
      'not-the-secret-of-this-resource-00000',
    ]);
    assertOAuthError(wrong, 401, 'invalid_client');
    assert.match(String(wrong.headers['www-authenticate']), /^Basic /);
  });

  it('refuses scopes the resource does not have', async () => {
    const c = await register(t);
    const b = await signedIn();
    redirectError(await b.get(authorizeUrl({ clientId: c.client_id, scope: 'other:read' })), 'invalid_scope');
  });
});

describe('refresh tokens', () => {
  useServer();

  it('two concurrent refreshes of one token: exactly one succeeds', async () => {
    const b = await signedIn();
    const { client, tokens } = await tokensFor(t, b);
    const params = {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token!,
      client_id: client.client_id,
    };
    const results = await Promise.all([
      form(t, '/api/oauth/token', params),
      form(t, '/api/oauth/token', params),
    ]);
    const ok = results.filter((r) => r.statusCode === 200);
    assert.equal(ok.length, 1, results.map((r) => r.body).join('\n'));
    assertOAuthError(
      results.find((r) => r.statusCode !== 200)!,
      400,
      'invalid_grant',
    );
  });

  it('reuse of a rotated token revokes the family and is audited', async () => {
    const b = await signedIn();
    const { client, tokens } = await tokensFor(t, b);
    const params = {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token!,
      client_id: client.client_id,
    };
    const next = (await form(t, '/api/oauth/token', params)).json();
    assertOAuthError(await form(t, '/api/oauth/token', params), 400, 'invalid_grant');
    assert.deepEqual((await introspect(t, next.access_token)).json(), { active: false });
    const rows = await t.deps.db
      .selectFrom('audit_events')
      .select(['action', 'data'])
      .where('action', '=', 'oauth.refresh_reuse_detected')
      .execute();
    assert.ok(rows.some((r) => JSON.stringify(r.data).includes(client.client_id)));
  });

  it('a refresh may narrow scopes but never widen them', async () => {
    const b = await signedIn();
    const { client, tokens } = await tokensFor(t, b, { scope: 'mcp:read mcp:run' });
    const wider = await form(t, '/api/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token!,
      client_id: client.client_id,
      scope: 'mcp:read mcp:write',
    });
    assertOAuthError(wider, 400, 'invalid_scope');
    const narrower = await form(t, '/api/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token!,
      client_id: client.client_id,
      scope: 'mcp:read',
    });
    assert.equal(narrower.statusCode, 200, narrower.body);
    assert.equal(narrower.json().scope, 'mcp:read');
    assert.equal((await introspect(t, narrower.json().access_token)).json().scope, 'mcp:read');
  });

  it("a narrowing refresh narrows the access token only: the new refresh token keeps the presented one's scope", async () => {
    const b = await signedIn();
    const { client, tokens } = await tokensFor(t, b, { scope: 'mcp:read mcp:run' });
    const narrower = await form(t, '/api/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token!,
      client_id: client.client_id,
      scope: 'mcp:read',
    });
    assert.equal(narrower.statusCode, 200, narrower.body);
    assert.equal(narrower.json().scope, 'mcp:read');
    // Omitted scope means the scope originally granted (RFC 6749 §6), not the last narrowing.
    const again = await form(t, '/api/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: narrower.json().refresh_token,
      client_id: client.client_id,
    });
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(again.json().scope, 'mcp:read mcp:run');
  });

  it('a refresh token belongs to its client', async () => {
    const b = await signedIn();
    const { tokens } = await tokensFor(t, b);
    const other = await register(t);
    const res = await form(t, '/api/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token!,
      client_id: other.client_id,
    });
    assertOAuthError(res, 400, 'invalid_grant');
  });
});

describe('sign-in return_to', () => {
  useServer();

  for (const evil of [
    'https://evil.example/x',
    '//evil.example',
    '/\\evil.example',
    'javascript:alert(1)',
    '\\\\evil.example',
  ]) {
    it(`drops ${evil}`, async () => {
      const page = await t.client().get(`/login?return_to=${encodeURIComponent(evil)}`);
      assert.equal(page.statusCode, 200);
      assert.equal(formFields(page.body).hidden.return_to, undefined);
      const browser = t.client();
      const { user, password } = await t.client().signup();
      const res = await browser.req({
        method: 'POST',
        url: '/login',
        body: new URLSearchParams({ email: user.email, password, return_to: evil }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, '/');
      const again = await browser.get(`/login?return_to=${encodeURIComponent(evil)}`);
      assert.equal(again.headers.location, '/');
    });
  }

  it('a wrong password re-renders the form with 401 and keeps a safe return_to', async () => {
    const { user } = await t.client().signup();
    const res = await t.client().req({
      method: 'POST',
      url: '/login',
      body: new URLSearchParams({
        email: user.email,
        password: 'wrong password!!',
        return_to: '/api/oauth/authorize?x=1',
      }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(res.statusCode, 401);
    assert.equal(formFields(res.body).hidden.return_to, '/api/oauth/authorize?x=1');
  });
});

describe('consent', () => {
  useServer();

  async function consentForm() {
    const c = await register(t);
    const b = await signedIn();
    const page = await b.get(authorizeUrl({ clientId: c.client_id }));
    assert.equal(page.statusCode, 200);
    const f = formFields(page.body);
    const body = new URLSearchParams(f.hidden);
    for (const s of f.scopes) if (s.checked) body.append('scope', s.value);
    body.set('decision', 'approve');
    return { b, body, c };
  }
  const post = (
    b: Awaited<ReturnType<typeof signedIn>>,
    body: URLSearchParams,
    headers: Record<string, string> = {},
  ) =>
    b.req({
      method: 'POST',
      url: '/consent',
      body: body.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    });

  it("refuses a missing, wrong or someone else's form token, and another origin", async () => {
    const { b, body } = await consentForm();
    const missing = new URLSearchParams(body);
    missing.delete('csrf_token');
    assert.equal((await post(b, missing)).statusCode, 403);
    const wrong = new URLSearchParams(body);
    wrong.set('csrf_token', 'A'.repeat(43));
    assert.equal((await post(b, wrong)).statusCode, 403);
    const { body: theirs } = await consentForm();
    const stolen = new URLSearchParams(body);
    stolen.set('csrf_token', theirs.get('csrf_token')!);
    assert.equal((await post(b, stolen)).statusCode, 403);
    assert.equal((await post(b, body, { origin: 'https://evil.example' })).statusCode, 403);
    const codes = await t.deps.db.selectFrom('oauth_codes').select('code_hash').execute();
    const ok = await post(b, body);
    assert.equal(ok.statusCode, 303);
    assert.equal(
      (await t.deps.db.selectFrom('oauth_codes').select('code_hash').execute()).length,
      codes.length + 1,
    );
  });

  it('a signed-out submission is refused; a denial goes back with access_denied, state and iss, audited', async () => {
    const { b, body, c } = await consentForm();
    const anon = await t.client().req({
      method: 'POST',
      url: '/consent',
      body: body.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(anon.statusCode, 401);
    body.set('decision', 'deny');
    redirectError(await post(b, body), 'access_denied');
    const rows = await t.deps.db
      .selectFrom('audit_events')
      .select('data')
      .where('action', '=', 'oauth.consent_denied')
      .execute();
    assert.ok(rows.some((r) => JSON.stringify(r.data).includes(c.client_id)));
  });

  it('cannot grant a scope the client did not ask for, or act in an org the person is not in', async () => {
    const { b, body } = await consentForm();
    const extra = new URLSearchParams(body);
    extra.append('scope', 'mcp:identity');
    redirectError(await post(b, extra), 'invalid_scope');
    const foreign = new URLSearchParams(body);
    foreign.set('org_id', '00000000-0000-4000-8000-000000000000');
    redirectError(await post(b, foreign), 'access_denied');
  });
});

describe('dynamic client registration', () => {
  useServer();

  const reg = (payload: unknown) =>
    t.app.inject({
      method: 'POST',
      url: '/api/oauth/register',
      payload: payload as object,
      remoteAddress: `10.97.0.${Math.floor(Math.random() * 250)}`,
    });

  for (const uris of [
    ['javascript:alert(1)'],
    ['https://x.example/cb#frag'],
    ['http://evil.example/cb'],
    ['data:text/html,x'],
    ['https://user:pw@x.example/cb'],
    ['not a url'],
    [],
    'https://x.example/cb',
  ]) {
    it(`refuses redirect_uris ${JSON.stringify(uris)} with invalid_redirect_uri`, async () => {
      assertOAuthError(
        await reg({ redirect_uris: uris, token_endpoint_auth_method: 'none' }),
        400,
        'invalid_redirect_uri',
      );
    });
  }

  for (const [what, meta] of [
    ['private_key_jwt', { token_endpoint_auth_method: 'private_key_jwt' }],
    ['the implicit grant', { grant_types: ['implicit'] }],
    ['client_credentials', { grant_types: ['client_credentials'] }],
    ['response type token', { response_types: ['token'] }],
    ['a 1000-character name', { client_name: 'n'.repeat(1000) }],
    ['an http client_uri', { client_uri: 'http://x.example' }],
  ] as const) {
    it(`refuses ${what} with invalid_client_metadata`, async () => {
      assertOAuthError(await reg({ redirect_uris: [REDIRECT], ...meta }), 400, 'invalid_client_metadata');
    });
  }

  it('ignores unknown metadata; a public client gets no secret, a confidential one gets one', async () => {
    const pub = await reg({
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: 'none',
      frobnicate: true,
    });
    assert.equal(pub.statusCode, 201, pub.body);
    assert.equal(pub.json().client_secret, undefined);
    assert.equal(pub.json().frobnicate, undefined);
    const conf = await reg({ redirect_uris: [REDIRECT] });
    assert.equal(conf.statusCode, 201);
    assert.equal(conf.json().token_endpoint_auth_method, 'client_secret_basic');
    assert.ok(conf.json().client_secret.length >= 40);
    assert.equal(conf.json().client_secret_expires_at, 0);
  });
});

describe('malformed input is a 4xx, never a 5xx', () => {
  useServer();

  it('token endpoint: oversized, repeated, JSON, percent garbage, empty', async () => {
    const c = await register(t);
    assertOAuthError(
      await form(t, '/api/oauth/token', {
        grant_type: 'authorization_code',
        code: 'c'.repeat(10_000),
        client_id: c.client_id,
      }),
      400,
      'invalid_request',
    );
    const raw = (payload: string, type = 'application/x-www-form-urlencoded') =>
      t.app.inject({ method: 'POST', url: '/api/oauth/token', payload, headers: { 'content-type': type } });
    assertOAuthError(await raw(`grant_type=a&grant_type=b&client_id=${c.client_id}`), 400, 'invalid_request');
    assertOAuthError(
      await raw(JSON.stringify({ grant_type: 'refresh_token' }), 'application/json'),
      400,
      'invalid_request',
    );
    const garbage = await raw(`grant_type=refresh_token&refresh_token=%ZZ%00&client_id=${c.client_id}`);
    assert.ok(garbage.statusCode >= 400 && garbage.statusCode < 500, garbage.body);
    assertOAuthError(
      await raw(
        `grant_type=authorization_code&code=%ZZ&client_id=${c.client_id}&redirect_uri=${encodeURIComponent(REDIRECT)}` +
          `&code_verifier=${pkce().verifier}&resource=${encodeURIComponent(MCP_URL)}`,
      ),
      400,
      'invalid_grant',
    );
    assertOAuthError(await raw(''), 401, 'invalid_client');
    assertOAuthError(await raw(`client_id=${c.client_id}`), 400, 'invalid_request');
    assertOAuthError(
      await raw(`client_id=${c.client_id}&grant_type=password`),
      400,
      'unsupported_grant_type',
    );
  });

  it('authorize: a huge state, odd parameters', async () => {
    const c = await register(t);
    const b = await signedIn();
    redirectErrorNoState(await b.get(authorizeUrl({ clientId: c.client_id, state: 's'.repeat(5000) })));
    const res = await b.get(`${authorizeUrl({ clientId: c.client_id })}&scope=a&scope=b`);
    assert.equal(res.statusCode, 303);
    assert.equal(new URL(res.headers.location as string).searchParams.get('error'), 'invalid_request');
    redirectError(
      await b.get(authorizeUrl({ clientId: c.client_id, extra: { response_type: 'token' } })),
      'unsupported_response_type',
    );
  });

  it('register: invalid JSON and a 2 MB body', async () => {
    const bad = await t.app.inject({
      method: 'POST',
      url: '/api/oauth/register',
      payload: '{nope',
      headers: { 'content-type': 'application/json' },
    });
    assertOAuthError(bad, 400, 'invalid_request');
    const big = await t.app.inject({
      method: 'POST',
      url: '/api/oauth/register',
      payload: JSON.stringify({ redirect_uris: [REDIRECT], x: 'y'.repeat(2 * 1024 * 1024) }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(big.statusCode, 413);
    assert.equal(big.json().error, 'invalid_request');
  });

  it('random form bodies to the token, revocation and introspection endpoints (property)', async () => {
    const key = fc.constantFrom(
      'grant_type',
      'code',
      'refresh_token',
      'client_id',
      'client_secret',
      'token',
      'redirect_uri',
      'code_verifier',
      'scope',
      'resource',
      'device_code',
      'x',
    );
    const value = fc.oneof(
      fc.string({ maxLength: 50 }),
      fc.constantFrom('authorization_code', 'refresh_token', 'client_credentials', 'lk_rt_x', '%', ''),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          '/api/oauth/token',
          '/api/oauth/revoke',
          '/api/oauth/introspect',
          '/api/oauth/device',
        ),
        fc.array(fc.tuple(key, value), { maxLength: 8 }),
        fc.option(fc.constantFrom('Basic Zm9vOmJhcg==', 'Basic !!!', 'Bearer x'), { nil: undefined }),
        async (url, pairs, authorization) => {
          const res = await t.app.inject({
            method: 'POST',
            url,
            payload: new URLSearchParams(pairs).toString(),
            headers: {
              'content-type': 'application/x-www-form-urlencoded',
              ...(authorization ? { authorization } : {}),
            },
            remoteAddress: '10.95.0.1',
          });
          assert.ok(res.statusCode < 500, `${url} ${res.statusCode} ${res.body}`);
          if (res.statusCode >= 400) {
            assert.match(String(res.headers['content-type']), /^application\/json/);
            assert.equal(res.headers['cache-control'], 'no-store');
            const body = res.json();
            assert.equal(typeof body.error, 'string');
            assert.equal(typeof body.error_description, 'string');
            if (res.statusCode === 401 && authorization)
              assert.match(String(res.headers['www-authenticate']), /^Basic /);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

function redirectErrorNoState(res: LightMyRequestResponse) {
  assert.equal(res.statusCode, 303, res.body);
  const back = new URL(res.headers.location as string);
  assert.equal(back.searchParams.get('error'), 'invalid_request');
  assert.equal(back.searchParams.get('state'), null);
}

describe('client authentication', () => {
  useServer();

  it('a wrong secret over Basic is 401 invalid_client with a Basic challenge; mixing methods is refused', async () => {
    const conf = await register(t, { token_endpoint_auth_method: 'client_secret_basic' });
    const res = await form(
      t,
      '/api/oauth/token',
      { grant_type: 'refresh_token', refresh_token: 'x' },
      { basic: [conf.client_id, 'wrong'] },
    );
    assertOAuthError(res, 401, 'invalid_client');
    assert.match(String(res.headers['www-authenticate']), /^Basic realm="latchkey"/);
    // A confidential client presenting no secret.
    assertOAuthError(
      await form(t, '/api/oauth/token', {
        grant_type: 'refresh_token',
        refresh_token: 'x',
        client_id: conf.client_id,
      }),
      401,
      'invalid_client',
    );
    // The registered method is the only one accepted.
    assertOAuthError(
      await form(t, '/api/oauth/token', {
        grant_type: 'refresh_token',
        refresh_token: 'x',
        client_id: conf.client_id,
        client_secret: conf.client_secret!,
      }),
      401,
      'invalid_client',
    );
    assertOAuthError(
      await form(
        t,
        '/api/oauth/token',
        { grant_type: 'refresh_token', refresh_token: 'x', client_secret: 'y' },
        { basic: [conf.client_id, conf.client_secret!] },
      ),
      400,
      'invalid_request',
    );
  });

  it("revocation of an unknown or another client's token answers 200 and changes nothing", async () => {
    const b = await signedIn();
    const { tokens } = await tokensFor(t, b);
    const other = await register(t);
    const res = await form(t, '/api/oauth/revoke', {
      token: tokens.access_token,
      client_id: other.client_id,
    });
    assert.equal(res.statusCode, 200);
    assert.equal((await introspect(t, tokens.access_token)).json().active, true);
    assert.equal(
      (await form(t, '/api/oauth/revoke', { token: 'lk_at_nope', client_id: other.client_id })).statusCode,
      200,
    );
  });
});

describe('loopback redirect URIs with impossible ports', () => {
  useServer();

  it('refuses port 99999 or 65536 on a page (regression: an unparseable redirect URI was a 500)', async () => {
    const c = await register(t, { redirect_uris: ['http://127.0.0.1/cb', 'http://[::1]/cb'] });
    const b = await signedIn();
    for (const uri of ['http://127.0.0.1:99999/cb', 'http://127.0.0.1:65536/cb', 'http://[::1]:99999/cb']) {
      refusedPage(await b.get(authorizeUrl({ clientId: c.client_id, redirectUri: uri })));
    }
  });
});

describe('Client ID Metadata Documents at private addresses (loopback not allowed)', () => {
  useServer();

  for (const clientId of [
    'https://10.0.0.1/client.json',
    'https://169.254.169.254/latest/meta-data',
    'https://127.0.0.1/x',
  ]) {
    it(`refuses ${clientId} on a page, never redirecting`, async () => {
      const b = await signedIn();
      refusedPage(await b.get(authorizeUrl({ clientId, redirectUri: 'http://127.0.0.1/callback' })));
      // Nothing was stored for it.
      const rows = await t.deps.db
        .selectFrom('oauth_clients')
        .select('id')
        .where('id', '=', clientId)
        .execute();
      assert.equal(rows.length, 0);
    });
  }
});

/** Whether a CSP's form-action lets a form submission's redirect chain end at `target`'s origin. */
function formActionAllows(csp: string, target: string): boolean {
  const directive = csp
    .split(';')
    .map((d) => d.trim().split(/\s+/))
    .find((d) => d[0] === 'form-action');
  if (!directive) return true;
  const u = new URL(target);
  return directive
    .slice(1)
    .some((src) => src === u.origin || src === `${u.origin}/` || src === u.protocol || src === '*');
}

describe('the consent redirect survives the page policy', () => {
  useServer();

  it("the consent page's form-action admits the redirect URI it will 303 to", async () => {
    const c = await register(t, { redirect_uris: [REDIRECT, 'http://127.0.0.1/cb'] });
    const b = await signedIn();
    for (const uri of [REDIRECT, 'http://127.0.0.1:53111/cb']) {
      const page = await b.get(authorizeUrl({ clientId: c.client_id, redirectUri: uri }));
      assert.equal(page.statusCode, 200, page.body);
      const csp = String(page.headers['content-security-policy']);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.ok(formActionAllows(csp, uri), csp);
    }
  });

  it('the sign-in form admits the redirect its submission ends in when consent is remembered', async () => {
    const c = await register(t);
    const first = t.client();
    const { user, password } = await first.signup();
    await consent(first, authorizeUrl({ clientId: c.client_id }));
    // Later, signed out, the same person authorises the same client again.
    const browser = t.client();
    const url = authorizeUrl({ clientId: c.client_id });
    const toLogin = await browser.get(url);
    assert.equal(toLogin.statusCode, 303);
    const loginPage = await browser.get(toLogin.headers.location as string);
    assert.equal(loginPage.statusCode, 200);
    const login = await browser.req({
      method: 'POST',
      url: '/login',
      body: new URLSearchParams({ email: user.email, password, return_to: url }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(login.headers.location, url);
    const back = await browser.get(url);
    assert.equal(back.statusCode, 303);
    const target = back.headers.location as string;
    assert.equal(new URL(target).origin, new URL(REDIRECT).origin);
    const csp = String(loginPage.headers['content-security-policy']);
    assert.ok(formActionAllows(csp, target), csp);
  });
});

describe('unrecognised and missing parameters', () => {
  useServer();

  it('repeated unknown parameters are ignored at the authorization and token endpoints', async () => {
    const b = await signedIn();
    const c = await register(t);
    const page = await b.get(`${authorizeUrl({ clientId: c.client_id })}&x_extra=1&x_extra=2`);
    assert.equal(page.statusCode, 200, String(page.headers.location));
    const { client, tokens } = await tokensFor(t, b);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `${new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token!,
        client_id: client.client_id,
      })}&x_extra=1&x_extra=2`,
    });
    assert.equal(res.statusCode, 200, res.body);
  });

  it('a missing response_type is invalid_request', async () => {
    const c = await register(t);
    const b = await signedIn();
    const url = authorizeUrl({ clientId: c.client_id }).replace('response_type=code&', '');
    redirectError(await b.get(url), 'invalid_request');
  });
});
