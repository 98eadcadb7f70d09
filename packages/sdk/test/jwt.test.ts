import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createVerifier, type Verifier, VerifyError } from '../src/index.js';
import {
  form,
  MCP_ID,
  MCP_SECRET,
  MCP_URL,
  OAUTH_TOML,
  testServer,
  type TestServer,
  tokensFor,
} from '@latchkey/server/testing';

/** fetch that counts what the verifier asks Latchkey (the network is real). */
function countingFetch() {
  const f = Object.assign(
    async (input: string | URL | Request, init?: RequestInit) => {
      const u = String(input);
      if (u.endsWith('/introspect')) f.introspections++;
      if (u.endsWith('/jwks.json')) f.jwks++;
      return fetch(input, init);
    },
    { introspections: 0, jwks: 0 },
  );
  return f;
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('JWT access tokens verified by the SDK from the JWKS', () => {
  let t: TestServer;
  let issuer: string;
  let b: ReturnType<TestServer['client']>;
  const open: Verifier[] = [];
  before(async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    issuer = `http://127.0.0.1:${port}`;
    const toml = OAUTH_TOML.replace(
      `secret = "${MCP_SECRET}"`,
      `secret = "${MCP_SECRET}"\ntoken_format = "jwt"`,
    );
    t = await testServer({ toml, env: { PUBLIC_URL: issuer } });
    await t.app.listen({ port, host: '127.0.0.1' });
    b = t.client();
    const signup = await t.app.inject({
      method: 'POST',
      url: '/api/auth/signup',
      headers: { origin: issuer },
      payload: {
        email: `sdk-jwt-${Date.now()}@example.com`,
        password: 'a sturdy passphrase 42',
        name: 'SDK',
      },
    });
    b.cookie = signup.cookies.find((c) => c.name === 'lk_session')!.value;
    const origReq = b.req.bind(b);
    b.req = (r) => origReq({ ...r, headers: { origin: issuer, ...r.headers } });
  });
  after(async () => {
    for (const v of open) v.close();
    t.app.server.closeAllConnections();
    await t.close();
  });

  const verifier = (f: ReturnType<typeof countingFetch>, resource = MCP_URL) => {
    const v = createVerifier({
      issuer,
      resource,
      credentials: { id: MCP_ID, secret: MCP_SECRET },
      fetch: f as typeof fetch,
    });
    open.push(v);
    return v;
  };

  it('verifies with no call per request, refuses another audience, and a revoked jti once the stream delivers it', async () => {
    const { client, tokens } = await tokensFor(t, b, { scope: 'mcp:read' });
    const jwt = tokens.access_token as string;
    const f = countingFetch();
    const v = verifier(f);
    assert.equal(v.verifyCached(jwt), null, 'nothing to answer from before the first verify');
    const p = await v.verify(jwt, { scopes: ['mcp:read'] });
    // Verified once, it is answered at once — under the same checks.
    assert.equal(v.verifyCached(jwt, { scopes: ['mcp:read'] }), p);
    assert.equal(v.verifyCached(jwt, { scopes: ['mcp:act'] }), null, 'a scope it lacks');
    assert.equal(v.verifyCached(jwt, { org: crypto.randomUUID() }), null, 'an org it is not for');
    assert.equal(v.verifyCached(`${jwt.slice(0, -4)}AAAA`), null, 'another signature');
    // The verified token's signature under other claims: found by its signature, taken only whole.
    const [header, payload, signature] = jwt.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = [
      header,
      Buffer.from(JSON.stringify({ ...claims, scope: 'mcp:read mcp:act' })).toString('base64url'),
      signature,
    ].join('.');
    assert.equal(v.verifyCached(forged), null, 'a verified signature under other claims');
    await assert.rejects(
      v.verify(forged),
      (e: unknown) => e instanceof VerifyError && e.code === 'invalid_token',
    );
    assert.equal(v.verifyCached(jwt, { scopes: ['mcp:read'] }), p, 'the verified token is still known');
    assert.equal(p.token_kind, 'oauth');
    assert.deepEqual(p.scopes, ['mcp:read']);
    assert.equal(p.client_id, client.client_id);
    for (let i = 0; i < 20; i++) await v.verify(jwt);
    assert.equal(f.introspections, 0, 'never introspected');
    assert.equal(f.jwks, 1, 'the key set fetched once');
    await assert.rejects(
      v.verify(jwt, { scopes: ['mcp:act'] }),
      (e: unknown) => e instanceof VerifyError && e.code === 'insufficient_scope',
    );
    const other = verifier(countingFetch(), 'https://other.example.com/api');
    await assert.rejects(
      other.verify(jwt),
      (e: unknown) => e instanceof VerifyError && e.code === 'invalid_token',
    );
    const tampered = `${jwt.slice(0, -4)}AAAA`;
    await assert.rejects(
      v.verify(tampered),
      (e: unknown) => e instanceof VerifyError && e.code === 'invalid_token',
    );

    await until(() => v.health().revocations === 'connected', 'the stream');
    const r = await form(t, '/api/oauth/revoke', { token: jwt, client_id: client.client_id });
    assert.equal(r.statusCode, 200);
    await until(
      () =>
        v.verify(jwt).then(
          () => false,
          () => true,
        ),
      'the revocation to reach the verifier',
    );
    assert.equal(v.verifyCached(jwt), null, 'a revoked token is not answered from memory');
    assert.equal(f.introspections, 0);
  });

  it('a key created after the JWKS was cached is fetched on its unknown kid', async () => {
    const f = countingFetch();
    const v = verifier(f);
    const first = await tokensFor(t, b, { scope: 'mcp:read' });
    await v.verify(first.tokens.access_token as string);
    const { rotateKey } = await import('@latchkey/server/testing');
    await rotateKey(t.deps.db, t.deps.clock, t.deps.config, 'ES256');
    await t.deps.cache.publish('latchkey:signing-keys', 'rotated');
    // An unknown kid refetches the set at most once a second.
    await new Promise((r) => setTimeout(r, 1100));
    const second = await tokensFor(t, b, { scope: 'mcp:read' });
    await v.verify(second.tokens.access_token as string);
    // The token signed before the rotation still verifies: its key is published for its lifetime.
    await v.verify(first.tokens.access_token as string);
    assert.equal(f.jwks >= 1 && f.jwks <= 2, true, `JWKS fetched ${f.jwks} times`);
  });
});
