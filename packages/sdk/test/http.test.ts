// test-backend: embedded — the subject is the SDK's HTTP adapters, not storage
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  createQuota,
  createVerifier,
  fastifyHook,
  memoryQuotaStore,
  metadataUrl,
  protectedResourceMetadata,
  protectRequest,
  type Verifier,
  type VerifierOptions,
} from '../src/index.js';
import {
  MCP_ID,
  MCP_SECRET,
  MCP_URL,
  OAUTH_TOML,
  testServer,
  type TestServer,
  tokensFor,
} from '@latchkey/server/testing';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** Every verifier is closed when the suite ends, so no revocation stream outlives it. */
const open: Verifier[] = [];
const make = (o: VerifierOptions) => {
  const v = createVerifier(o);
  open.push(v);
  return v;
};

describe('HTTP adapters against a real Latchkey', () => {
  let t: TestServer;
  let api: FastifyInstance;
  let issuer: string;
  let token: string;
  const prm = metadataUrl(MCP_URL);

  before(async () => {
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    t = await testServer({ toml: OAUTH_TOML, env: { PUBLIC_URL: issuer } });
    await t.app.listen({ port, host: '127.0.0.1' });
    const b = t.client();
    const signup = await t.app.inject({
      method: 'POST',
      url: '/api/auth/signup',
      headers: { origin: issuer },
      payload: {
        email: `sdk-http-${Date.now()}@example.com`,
        password: 'a sturdy passphrase 42',
        name: 'SDK',
      },
    });
    b.cookie = signup.cookies.find((c) => c.name === 'lk_session')!.value;
    const orig = b.req.bind(b);
    b.req = (r) => orig({ ...r, headers: { origin: issuer, ...r.headers } });
    token = (await tokensFor(t, b, { scope: 'mcp:read mcp:run' })).tokens.access_token;

    const verifier = make({
      issuer,
      resource: MCP_URL,
      credentials: { id: MCP_ID, secret: MCP_SECRET },
    });
    api = Fastify();
    api.get(new URL(prm).pathname, async () =>
      protectedResourceMetadata({ resource: MCP_URL, issuer, scopes: ['mcp:read', 'mcp:act'] }),
    );
    api.get(
      '/read',
      { preHandler: fastifyHook(verifier, { resourceMetadataUrl: prm, scopes: ['mcp:read'] }) },
      async (req) => {
        const p = (req as unknown as { latchkey: { sub: string; email: string | null; name: string | null } })
          .latchkey;
        return { sub: p.sub, email: p.email, name: p.name };
      },
    );
    api.get(
      '/act',
      { preHandler: fastifyHook(verifier, { resourceMetadataUrl: prm, scopes: ['mcp:act'] }) },
      async () => ({ ok: true }),
    );
    await api.ready();
  });
  after(async () => {
    await api.close();
    for (const v of open.splice(0)) v.close();
    // Aborting a streaming fetch makes Node's undici open a fresh socket that never carries a
    // request; server.close() would wait on it until the headers timeout: drop it.
    t.app.server.closeAllConnections();
    await t.close();
  });

  it('serves the request with the principal when the token holds the scope', async () => {
    const res = await api.inject({ url: '/read', headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.statusCode, 200, res.body);
    assert.ok(res.json().sub);
    // Who the person is, to greet them: from introspection, for this resource only.
    assert.match(res.json().email, /^sdk-http-\d+@example\.com$/);
    assert.equal(res.json().name, 'SDK');
    // Known now, the token is answered without a round trip: the same principal, and the route that
    // needs a scope it lacks still refuses it.
    const again = await api.inject({ url: '/read', headers: { authorization: `bearer  ${token} ` } });
    assert.equal(again.statusCode, 200, again.body);
    assert.deepEqual(again.json(), res.json());
    const act = await api.inject({ url: '/act', headers: { authorization: `Bearer ${token}` } });
    assert.equal(act.statusCode, 403, act.body);
  });

  it('401 with the scope the route needs and resource_metadata (SEP-835); 401 invalid_token for a bad one', async () => {
    const none = await api.inject({ url: '/read' });
    assert.equal(none.statusCode, 401);
    assert.equal(none.headers['www-authenticate'], `Bearer scope="mcp:read", resource_metadata="${prm}"`);
    const bad = await api.inject({ url: '/read', headers: { authorization: 'Bearer lk_at_nope' } });
    assert.equal(bad.statusCode, 401);
    assert.equal(
      bad.headers['www-authenticate'],
      `Bearer error="invalid_token", scope="mcp:read", resource_metadata="${prm}"`,
    );
  });

  it("401 names challengeScopes (the resource's defaults) on a route that needs no scope of its own", async () => {
    const verifier = make({ issuer, resource: MCP_URL, credentials: { id: MCP_ID, secret: MCP_SECRET } });
    const open401 = Fastify();
    open401.get(
      '/any',
      {
        preHandler: fastifyHook(verifier, {
          resourceMetadataUrl: prm,
          challengeScopes: ['mcp:read', 'mcp:run'],
        }),
      },
      async () => ({ ok: true }),
    );
    const bare = Fastify();
    bare.get('/any', { preHandler: fastifyHook(verifier, { resourceMetadataUrl: prm }) }, async () => ({
      ok: true,
    }));
    try {
      const res = await open401.inject({ url: '/any' });
      assert.equal(res.statusCode, 401);
      assert.equal(
        res.headers['www-authenticate'],
        `Bearer scope="mcp:read mcp:run", resource_metadata="${prm}"`,
      );
      // The token holds mcp:read and mcp:run: served.
      const ok = await open401.inject({ url: '/any', headers: { authorization: `Bearer ${token}` } });
      assert.equal(ok.statusCode, 200, ok.body);
      // Without either, the 401 names no scope and keeps resource_metadata.
      const plain = await bare.inject({ url: '/any' });
      assert.equal(plain.headers['www-authenticate'], `Bearer resource_metadata="${prm}"`);
    } finally {
      await open401.close();
      await bare.close();
    }
  });

  it('403 insufficient_scope naming the scope, so the client can step up', async () => {
    const res = await api.inject({ url: '/act', headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.statusCode, 403);
    assert.equal(
      res.headers['www-authenticate'],
      `Bearer error="insufficient_scope", scope="mcp:act", resource_metadata="${prm}"`,
    );
    assert.equal(res.json().error, 'insufficient_scope');
    assert.equal(res.json().scope, 'mcp:act');
  });

  it('serves the RFC 9728 document at the path-suffixed well-known URL', async () => {
    assert.equal(prm, 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp');
    const doc = await api.inject({ url: '/.well-known/oauth-protected-resource/mcp' });
    assert.deepEqual(doc.json().authorization_servers, [issuer]);
    assert.equal(doc.json().resource, MCP_URL);
  });

  it('the fetch-runtime adapter answers a Response or the principal', async () => {
    const verifier = make({
      issuer,
      resource: MCP_URL,
      credentials: { id: MCP_ID, secret: MCP_SECRET },
    });
    const guard = protectRequest(verifier, { resourceMetadataUrl: prm });
    const ok = await guard(
      new Request('https://mcp.example.com/mcp', { headers: { authorization: `Bearer ${token}` } }),
      ['mcp:run'],
    );
    assert.ok(!(ok instanceof Response));
    const refused = await guard(new Request('https://mcp.example.com/mcp'));
    assert.ok(refused instanceof Response);
    assert.equal(refused.status, 401);
    const down = protectRequest(
      make({
        issuer: 'http://127.0.0.1:9',
        resource: MCP_URL,
        credentials: { id: 'a', secret: 'b' },
        revocationStream: false,
      }),
      {
        resourceMetadataUrl: prm,
      },
    );
    const closed = await down(
      new Request('https://mcp.example.com/mcp', { headers: { authorization: `Bearer ${token}` } }),
    );
    assert.ok(closed instanceof Response);
    assert.equal(closed.status, 503);
  });

  it('a quota answers 429 quota_exceeded with Retry-After once the budget is spent, after token and scope pass', async () => {
    // A fresh store, and the default key (the token's org).
    const quota = createQuota({ store: memoryQuotaStore(), limit: () => 2 });
    const verifier = make({ issuer, resource: MCP_URL, credentials: { id: MCP_ID, secret: MCP_SECRET } });
    const metered = Fastify();
    metered.get(
      '/read',
      { preHandler: fastifyHook(verifier, { resourceMetadataUrl: prm, scopes: ['mcp:read'], quota }) },
      async () => ({ ok: true }),
    );
    metered.get(
      '/act',
      { preHandler: fastifyHook(verifier, { resourceMetadataUrl: prm, scopes: ['mcp:act'], quota }) },
      async () => ({ ok: true }),
    );
    try {
      const auth = { authorization: `Bearer ${token}` };
      // Refusals for the token or its scopes come first and spend nothing.
      assert.equal((await metered.inject({ url: '/read' })).statusCode, 401);
      assert.equal((await metered.inject({ url: '/act', headers: auth })).statusCode, 403);
      for (let i = 0; i < 2; i++) {
        const ok = await metered.inject({ url: '/read', headers: auth });
        assert.equal(ok.statusCode, 200, ok.body);
      }
      const spent = await metered.inject({ url: '/read', headers: auth });
      assert.equal(spent.statusCode, 429);
      assert.equal(spent.json().error, 'quota_exceeded');
      assert.equal(spent.headers['cache-control'], 'no-store');
      assert.match(String(spent.headers['retry-after']), /^[1-9]\d*$/);
      assert.ok(Number(spent.headers['retry-after']) <= 86_400);
      assert.equal(spent.headers['www-authenticate'], undefined);
      // The fetch-runtime adapter shares the same budget through check().
      const guard = protectRequest(verifier, { resourceMetadataUrl: prm, quota });
      const r = await guard(new Request('https://mcp.example.com/mcp', { headers: auth }));
      assert.ok(r instanceof Response);
      assert.equal(r.status, 429);
      assert.equal(((await r.json()) as { error: string }).error, 'quota_exceeded');
    } finally {
      await metered.close();
    }
  });
});
