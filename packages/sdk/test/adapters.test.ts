// test-backend: embedded — the subject is the SDK's HTTP adapters, not storage
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { serve } from '@hono/node-server';
import express, { type Request } from 'express';
import { Hono } from 'hono';
import {
  createVerifier,
  expressMiddleware,
  honoMiddleware,
  type LatchkeyEnv,
  metadataUrl,
  type Principal,
  type Verifier,
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

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    );
  });
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

describe('Express and Hono adapters against a real Latchkey', () => {
  let t: TestServer;
  let verifier: Verifier;
  let down: Verifier;
  let token: string;
  let expressUrl: string;
  let honoUrl: string;
  const servers: Server[] = [];
  const prm = metadataUrl(MCP_URL);
  const errors: unknown[] = [];

  before(async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    t = await testServer({ toml: OAUTH_TOML, env: { PUBLIC_URL: issuer } });
    await t.app.listen({ port, host: '127.0.0.1' });
    const b = t.client();
    const signup = await t.app.inject({
      method: 'POST',
      url: '/api/auth/signup',
      headers: { origin: issuer },
      payload: {
        email: `sdk-adapters-${Date.now()}@example.com`,
        password: 'a sturdy passphrase 42',
        name: 'SDK',
      },
    });
    b.cookie = signup.cookies.find((c) => c.name === 'lk_session')!.value;
    const orig = b.req.bind(b);
    b.req = (r) => orig({ ...r, headers: { origin: issuer, ...r.headers } });
    token = (await tokensFor(t, b, { scope: 'mcp:read mcp:run' })).tokens.access_token;

    verifier = createVerifier({
      issuer,
      resource: MCP_URL,
      credentials: { id: MCP_ID, secret: MCP_SECRET },
      revocationStream: false,
    });
    // Nothing listens there: Latchkey cannot be asked, so the adapters must fail closed.
    down = createVerifier({
      issuer: `http://127.0.0.1:${await freePort()}`,
      resource: MCP_URL,
      credentials: { id: MCP_ID, secret: MCP_SECRET },
      revocationStream: false,
    });
    const read = { resourceMetadataUrl: prm, scopes: ['mcp:read'] };
    const act = { resourceMetadataUrl: prm, scopes: ['mcp:act'] };

    const ex = express();
    ex.get('/read', expressMiddleware(verifier, read), (req, res) => {
      res.json((req as Request & { latchkey: Principal }).latchkey);
    });
    ex.get('/act', expressMiddleware(verifier, act), (_req, res) => {
      res.json({ ok: true });
    });
    ex.get('/down', expressMiddleware(down, read), (_req, res) => {
      res.json({ ok: true });
    });
    // A misbehaving earlier middleware that starts the response: the refusal cannot be sent.
    ex.get(
      '/started',
      (_req, res, next) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial');
        next();
      },
      expressMiddleware(verifier, read),
    );
    ex.use((err: unknown, _req: Request, res: express.Response, _next: express.NextFunction) => {
      errors.push(err);
      res.end();
    });
    const es = createServer(ex);
    servers.push(es);
    expressUrl = await listen(es);

    const hono = new Hono<LatchkeyEnv>();
    hono.get('/read', honoMiddleware(verifier, read), (c) => c.json(c.get('latchkey')));
    hono.get('/act', honoMiddleware(verifier, act), (c) => c.json({ ok: true }));
    hono.get('/down', honoMiddleware(down, read), (c) => c.json({ ok: true }));
    const hs = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: hono.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server));
    });
    servers.push(hs);
    honoUrl = `http://127.0.0.1:${(hs.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const s of servers) await close(s);
    for (const v of [verifier, down]) await (v as Partial<{ close(): unknown }> | undefined)?.close?.();
    await t.close();
  });

  for (const name of ['express', 'hono'] as const) {
    const url = (path: string) => (name === 'express' ? expressUrl : honoUrl) + path;

    describe(name, () => {
      it('serves the request with the principal when the token holds the scope', async () => {
        const res = await fetch(url('/read'), { headers: { authorization: `Bearer ${token}` } });
        assert.equal(res.status, 200);
        const p = (await res.json()) as Principal;
        assert.ok(p.sub);
        assert.ok(p.org_id);
        assert.deepEqual([...p.scopes].sort(), ['mcp:read', 'mcp:run']);
      });

      it('401 with the scope the route needs and resource_metadata when no token is sent', async () => {
        const res = await fetch(url('/read'));
        assert.equal(res.status, 401);
        assert.equal(
          res.headers.get('www-authenticate'),
          `Bearer scope="mcp:read", resource_metadata="${prm}"`,
        );
        assert.equal(res.headers.get('cache-control'), 'no-store');
        assert.match(String(res.headers.get('content-type')), /^application\/json/);
        assert.equal(((await res.json()) as { error: string }).error, 'invalid_request');
      });

      it('401 invalid_token for a bad token', async () => {
        const res = await fetch(url('/read'), { headers: { authorization: 'Bearer lk_at_nope' } });
        assert.equal(res.status, 401);
        assert.equal(
          res.headers.get('www-authenticate'),
          `Bearer error="invalid_token", scope="mcp:read", resource_metadata="${prm}"`,
        );
        assert.equal(res.headers.get('cache-control'), 'no-store');
        assert.equal(((await res.json()) as { error: string }).error, 'invalid_token');
      });

      it('403 insufficient_scope naming the scope, so the client can step up', async () => {
        const res = await fetch(url('/act'), { headers: { authorization: `Bearer ${token}` } });
        assert.equal(res.status, 403);
        assert.equal(
          res.headers.get('www-authenticate'),
          `Bearer error="insufficient_scope", scope="mcp:act", resource_metadata="${prm}"`,
        );
        const body = (await res.json()) as { error: string; scope: string };
        assert.equal(body.error, 'insufficient_scope');
        assert.equal(body.scope, 'mcp:act');
      });

      it('503 with Retry-After when Latchkey cannot be reached: fails closed', async () => {
        const res = await fetch(url('/down'), { headers: { authorization: `Bearer ${token}` } });
        assert.equal(res.status, 503);
        assert.equal(res.headers.get('retry-after'), '5');
        assert.equal(res.headers.get('cache-control'), 'no-store');
        assert.equal(((await res.json()) as { error: string }).error, 'temporarily_unavailable');
      });
    });
  }

  it('express: an error while answering goes to next(err), and the server keeps serving', async () => {
    const res = await fetch(`${expressUrl}/started`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'partial');
    assert.equal(errors.length, 1);
    assert.match(String((errors[0] as Error).message), /already started/);
    const again = await fetch(`${expressUrl}/read`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(again.status, 200);
  });

  it('both adapters refuse bad options at construction', () => {
    for (const make of [expressMiddleware, honoMiddleware]) {
      assert.throws(() => make(verifier, { resourceMetadataUrl: '/relative' }), TypeError);
      assert.throws(() => make(verifier, { resourceMetadataUrl: 'https://x.example/\n' }), TypeError);
      assert.throws(
        () => make(verifier, { resourceMetadataUrl: prm, scopes: 'mcp:read' as unknown as string[] }),
        TypeError,
      );
      assert.throws(() => make(verifier, { resourceMetadataUrl: prm, scopes: ['two words'] }), TypeError);
      assert.throws(
        () => make(verifier, { resourceMetadataUrl: prm, challengeScopes: ['a"b'] }),
        /challengeScopes must be a list of scope names/,
      );
      assert.throws(() => make({} as Verifier, { resourceMetadataUrl: prm }), TypeError);
    }
  });
});
