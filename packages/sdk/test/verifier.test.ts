import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createVerifier, VerifyError } from '../src/index.js';
// The SDK imports nothing from the server; its tests run against a real one.
import { type TestServer, testServer } from '../../server/test/helpers/harness.js';
import {
  MCP_ID,
  MCP_SECRET,
  MCP_URL,
  OAUTH_TOML,
  OTHER_URL,
  tokensFor,
} from '../../server/test/oauth/helpers.js';

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const s = createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  return { url, close: () => new Promise<void>((r) => s.close(() => r())) };
}

/** fetch that counts introspection calls (the network is real). */
function countingFetch() {
  const f = Object.assign(
    async (input: string | URL | Request, init?: RequestInit) => {
      if (String(input).endsWith('/introspect')) f.calls++;
      return fetch(input, init);
    },
    { calls: 0 },
  );
  return f;
}

describe('createVerifier against a real Latchkey', () => {
  let t: TestServer;
  let issuer: string;
  let token: string;
  before(async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    issuer = `http://127.0.0.1:${port}`;
    t = await testServer({ toml: OAUTH_TOML, env: { PUBLIC_URL: issuer } });
    await t.app.listen({ port, host: '127.0.0.1' });
    const b = t.client();
    // The harness client sends the default Origin; this server's origin differs, so send ours.
    const signup = await t.app.inject({
      method: 'POST',
      url: '/api/auth/signup',
      headers: { origin: issuer },
      payload: { email: `sdk-${Date.now()}@example.com`, password: 'a sturdy passphrase 42', name: 'SDK' },
    });
    b.cookie = signup.cookies.find((c) => c.name === 'lk_session')!.value;
    const origReq = b.req.bind(b);
    b.req = (r) => origReq({ ...r, headers: { origin: issuer, ...r.headers } });
    token = (await tokensFor(t, b, { scope: 'mcp:read mcp:run' })).tokens.access_token;
  });
  after(() => t.close());

  const verifier = (
    o: { now?: () => number; f?: ReturnType<typeof countingFetch>; resource?: string } = {},
  ) =>
    createVerifier({
      issuer,
      resource: o.resource ?? MCP_URL,
      credentials: { id: MCP_ID, secret: MCP_SECRET },
      ...(o.f ? { fetch: o.f as typeof fetch } : {}),
      ...(o.now ? { now: o.now } : {}),
    });

  it('returns the principal of a live token for this resource', async () => {
    const p = await verifier().verify(token, { scopes: ['mcp:read'] });
    assert.equal(p.token_kind, 'oauth');
    assert.deepEqual(p.scopes, ['mcp:read', 'mcp:run']);
    assert.ok(p.org_id && p.sub && p.client_id);
  });

  it('answers insufficient_scope (403) naming the scopes needed', async () => {
    await assert.rejects(verifier().verify(token, { scopes: ['mcp:read', 'mcp:act'] }), (e: unknown) => {
      assert.ok(e instanceof VerifyError);
      assert.equal(e.code, 'insufficient_scope');
      assert.equal(e.status, 403);
      assert.equal(e.scope, 'mcp:read mcp:act');
      return true;
    });
  });

  it('refuses unknown and malformed tokens with invalid_token (401)', async () => {
    for (const bad of ['lk_at_nope', '', 'x'.repeat(600)]) {
      await assert.rejects(
        verifier().verify(bad),
        (e: unknown) => e instanceof VerifyError && e.status === 401,
      );
    }
  });

  it('caches positives up to 30 s, negatives 5 s, and shares one call between concurrent checks', async () => {
    let now = Date.now();
    const f = countingFetch();
    const v = verifier({ now: () => now, f });
    await Promise.all(Array.from({ length: 5 }, () => v.verify(token)));
    assert.equal(f.calls, 1);
    await v.verify(token);
    assert.equal(f.calls, 1);
    now += 31_000;
    await v.verify(token);
    assert.equal(f.calls, 2);
    await assert.rejects(v.verify('lk_at_unknown'));
    await assert.rejects(v.verify('lk_at_unknown'));
    assert.equal(f.calls, 3);
    now += 5_001;
    await assert.rejects(v.verify('lk_at_unknown'));
    assert.equal(f.calls, 4);
  });

  it('a verifier for another resource never accepts this token', async () => {
    await assert.rejects(
      verifier({ resource: OTHER_URL }).verify(token),
      (e: unknown) => e instanceof VerifyError && e.status === 401,
    );
  });
});

describe('createVerifier failure modes (real local servers standing in for Latchkey)', () => {
  it('fails closed with 503 when Latchkey cannot be reached, and does not cache it', async () => {
    const v = createVerifier({
      issuer: 'http://127.0.0.1:9',
      resource: MCP_URL,
      credentials: { id: 'a', secret: 'b' },
    });
    for (let i = 0; i < 2; i++) {
      await assert.rejects(
        v.verify('lk_at_x'),
        (e: unknown) => e instanceof VerifyError && e.code === 'unavailable' && e.status === 503,
      );
    }
  });

  it('fails closed on a 5xx from introspection, then recovers without a stale answer', async () => {
    let broken = true;
    let calls = 0;
    const aud = MCP_URL;
    const s = await listen((req, res) => {
      if (req.url === '/.well-known/oauth-authorization-server') {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ issuer: base(), introspection_endpoint: `${base()}/introspect` }));
        return;
      }
      calls++;
      if (broken) return void res.writeHead(500).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          active: true,
          aud,
          sub: 'u',
          org_id: 'o',
          client_id: 'c',
          scope: 'mcp:read',
          exp: Math.floor(Date.now() / 1000) + 3600,
        }),
      );
    });
    const base = () => s.url;
    try {
      const v = createVerifier({ issuer: s.url, resource: MCP_URL, credentials: { id: 'a', secret: 'b' } });
      await assert.rejects(
        v.verify('tok'),
        (e: unknown) => e instanceof VerifyError && e.code === 'unavailable',
      );
      broken = false;
      assert.equal((await v.verify('tok')).sub, 'u');
      assert.equal(calls, 2);
    } finally {
      await s.close();
    }
  });

  it('refuses an active token whose audience is another resource (confused deputy)', async () => {
    const s = await listen((req, res) => {
      if (req.url === '/.well-known/oauth-authorization-server') {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ issuer: s.url, introspection_endpoint: `${s.url}/introspect` }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          active: true,
          aud: 'https://elsewhere.example/api',
          sub: 'u',
          org_id: 'o',
          client_id: 'c',
          scope: 'mcp:read',
          exp: Math.floor(Date.now() / 1000) + 3600,
        }),
      );
    });
    try {
      const v = createVerifier({ issuer: s.url, resource: MCP_URL, credentials: { id: 'a', secret: 'b' } });
      await assert.rejects(
        v.verify('tok'),
        (e: unknown) => e instanceof VerifyError && e.code === 'invalid_token',
      );
    } finally {
      await s.close();
    }
  });

  it("never caches a positive past the token's exp", async () => {
    let calls = 0;
    let now = Date.now();
    const exp = Math.floor(now / 1000) + 2;
    const s = await listen((req, res) => {
      if (req.url === '/.well-known/oauth-authorization-server') {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ issuer: s.url, introspection_endpoint: `${s.url}/introspect` }));
        return;
      }
      calls++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          active: true,
          aud: MCP_URL,
          sub: 'u',
          org_id: 'o',
          client_id: 'c',
          scope: '',
          exp,
        }),
      );
    });
    try {
      const v = createVerifier({
        issuer: s.url,
        resource: MCP_URL,
        credentials: { id: 'a', secret: 'b' },
        now: () => now,
      });
      await v.verify('tok');
      now = exp * 1000 + 1;
      await assert.rejects(
        v.verify('tok'),
        (e: unknown) => e instanceof VerifyError && e.code === 'invalid_token',
      );
      assert.equal(calls, 2);
    } finally {
      await s.close();
    }
  });
});
