import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import express, { type Request } from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import {
  createVerifier,
  expressMiddleware,
  fastifyHook,
  honoMiddleware,
  type LatchkeyEnv,
  metadataUrl,
  type Principal,
  protectRequest,
  type Verifier,
  VerifyError,
} from '../src/index.js';
import {
  MCP_ID,
  MCP_SECRET,
  MCP_URL,
  mintPat,
  OAUTH_TOML,
  orgWithRoles,
  PUBLIC_URL,
  testServer,
  type TestServer,
  tokensFor,
} from '@latchkey/server/testing';

const OPEN_ID = 'sdk-org-tools';
const OPEN_URL = 'https://tools.example.com/mcp';
const OPEN_SECRET = 'sdk-org-tools-secret-0123456789abcdef';

/** The example MCP resource issues JWT access tokens; the tools resource accepts API tokens. */
const TOML = `${OAUTH_TOML.replace(`secret = "${MCP_SECRET}"`, `secret = "${MCP_SECRET}"\ntoken_format = "jwt"`)}
[[resources]]
id = "${OPEN_ID}"
url = "${OPEN_URL}"
name = "Tools MCP"
secret = "${OPEN_SECRET}"
accept_api_tokens = true
`;

const orgForbidden = (e: unknown) =>
  e instanceof VerifyError && e.code === 'org_forbidden' && e.status === 403;
const invalidToken = (e: unknown) =>
  e instanceof VerifyError && e.code === 'invalid_token' && e.status === 401;

async function until(cond: () => Promise<boolean> | boolean, what: string, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the org a request names, carried by the principal (a real listening Latchkey)', () => {
  let t: TestServer;
  let port: number;
  const open: Verifier[] = [];
  const servers: Server[] = [];

  before(async () => {
    // The server keeps its usual PUBLIC_URL (so the harness's sign-up and mail links work); the
    // verifier reaches it on its real port through its fetch seam.
    t = await testServer({ toml: TOML });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as AddressInfo).port;
  });
  afterEach(() => {
    for (const v of open.splice(0)) v.close();
  });
  after(async () => {
    for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
    t.app.server.closeAllConnections();
    await t.close();
  });

  /** fetch to the listening server, counting introspection calls. */
  function net() {
    const f = Object.assign(
      async (input: string | URL | Request, init?: RequestInit) => {
        const url = String(input).replace(PUBLIC_URL, `http://127.0.0.1:${port}`);
        if (url.endsWith('/introspect')) f.introspections.push(String(init?.body ?? ''));
        return fetch(url, init);
      },
      { introspections: [] as string[] },
    );
    return f;
  }

  function verifier(o: { jwt?: boolean; stream?: boolean; f?: ReturnType<typeof net> } = {}) {
    const v = createVerifier({
      issuer: PUBLIC_URL,
      resource: o.jwt ? MCP_URL : OPEN_URL,
      credentials: o.jwt ? { id: MCP_ID, secret: MCP_SECRET } : { id: OPEN_ID, secret: OPEN_SECRET },
      acceptApiTokens: true,
      revocationStream: o.stream ?? false,
      fetch: (o.f ?? net()) as typeof fetch,
    });
    open.push(v);
    return v;
  }

  describe('refusals', () => {
    it("refuses (403 org_forbidden) a PAT naming an org its person is not in, and never answers one org from another's verdict", async () => {
      const { org, member } = await orgWithRoles(t);
      const { org: elsewhere } = await t.client().signup();
      const pat = await mintPat(member, { scopes: ['mcp:read'] });
      const f = net();
      const v = verifier({ f });
      assert.equal((await v.verify(pat.token, { org: org.id })).org_id, org.id);
      for (const named of [elsewhere.id, elsewhere.slug, randomUUID(), 'no-such-org', 'x'.repeat(300)])
        await assert.rejects(v.verify(pat.token, { org: named }), orgForbidden, named);
      // Cached per token AND org: the member's org still answers from its own verdict…
      const calls = f.introspections.length;
      assert.equal((await v.verify(pat.token, { org: org.id })).org_role, 'member');
      assert.equal(f.introspections.length, calls, 'from the cache');
      // …and the other org's refusal is not replaced by it.
      await assert.rejects(v.verify(pat.token, { org: elsewhere.id }), orgForbidden);
      // In an org of their own, the same token carries that org and their role there.
      const mine = await member.post('/api/v1/orgs', { name: 'Side Project' });
      assert.equal(mine.statusCode, 201, mine.body);
      const side = await v.verify(pat.token, { org: mine.json().id });
      assert.deepEqual([side.org_id, side.org_role], [mine.json().id, 'owner']);
      assert.equal((await v.verify(pat.token, { org: org.id })).org_role, 'member');
      // The org is sent to Latchkey as `org`.
      assert.ok(f.introspections.some((b) => new URLSearchParams(b).get('org') === elsewhere.slug));
      // A bad token is a bad token, org or not.
      await assert.rejects(v.verify(`${pat.token.slice(0, -4)}AAAA`, { org: org.id }), invalidToken);
    });

    it('a member removed from the org is refused there as soon as the revocation stream says so', async () => {
      const { owner, org, member, ids } = await orgWithRoles(t);
      const pat = await mintPat(member, { scopes: ['mcp:read'] });
      const v = verifier({ stream: true });
      assert.equal((await v.verify(pat.token, { org: org.slug })).org_slug, org.slug);
      await until(() => v.health().revocations === 'connected', 'the stream');
      const removed = await owner.req({
        method: 'DELETE',
        url: `/api/v1/org/members/${ids.member}`,
        org: org.id,
      });
      assert.equal(removed.statusCode, 204, removed.body);
      // Well within the 30 s a positive answer may otherwise be cached.
      await until(
        () =>
          v.verify(pat.token, { org: org.slug }).then(
            () => false,
            (e: unknown) => orgForbidden(e),
          ),
        'the removal to reach the verifier',
      );
      assert.equal((await v.verify(pat.token)).org_id, null, 'the token itself is still live');
    });

    it('a credential bound to one org naming another is refused; a token for another resource is invalid', async () => {
      const c = t.client();
      const { org } = await c.signup();
      const { org: elsewhere } = await t.client().signup();
      const svc = await mintPat(c, { name: 'ci', type: 'svc', scopes: ['mcp:read'] }, org.id);
      const v = verifier();
      await assert.rejects(v.verify(svc.token, { org: elsewhere.id }), orgForbidden);
      await assert.rejects(v.verify(svc.token, { org: elsewhere.slug }), orgForbidden);
      const own = await v.verify(svc.token, { org: org.slug });
      assert.deepEqual([own.org_id, own.org_slug, own.org_role], [org.id, org.slug, null]);
      // The JWT resource does not take API tokens: invalid, whichever org is named.
      const pat = await mintPat(c, { scopes: ['mcp:read'] });
      await assert.rejects(verifier({ jwt: true }).verify(pat.token, { org: org.id }), invalidToken);
    });

    it('a JWT access token naming another org than its org_id is refused (403), with no call for an id', async () => {
      const c = t.client();
      const { org } = await c.signup();
      const { org: elsewhere } = await t.client().signup();
      const jwt = (await tokensFor(t, c, { scope: 'mcp:read', org: org.id })).tokens.access_token;
      const f = net();
      const v = verifier({ jwt: true, f });
      const p = await v.verify(jwt, { org: org.id });
      assert.equal(p.org_id, org.id);
      await assert.rejects(v.verify(jwt, { org: elsewhere.id }), orgForbidden);
      await assert.rejects(v.verify(jwt, { org: randomUUID() }), orgForbidden);
      assert.equal(f.introspections.length, 0, 'ids are compared locally');
      // A slug is resolved by Latchkey: its own org's slug passes, another's is refused.
      await assert.rejects(v.verify(jwt, { org: elsewhere.slug }), orgForbidden);
      const bySlug = await v.verify(jwt, { org: org.slug });
      assert.deepEqual([bySlug.org_id, bySlug.org_slug, bySlug.org_role], [org.id, org.slug, 'owner']);
    });
  });

  it("a member's PAT carries org_id, org_slug and org_role for the org named; none without one", async () => {
    const { org, member, admin } = await orgWithRoles(t);
    const pat = await mintPat(member, { scopes: ['mcp:read'] });
    const v = verifier();
    for (const named of [org.id, org.slug, ` ${org.slug} `]) {
      const p = await v.verify(pat.token, { org: named });
      assert.deepEqual([p.org_id, p.org_slug, p.org_role], [org.id, org.slug, 'member'], named);
      assert.equal(p.token_kind, 'pat');
    }
    const plain = await v.verify(pat.token);
    assert.deepEqual([plain.org_id, plain.org_slug, plain.org_role], [null, null, null]);
    assert.equal((await v.verify(pat.token, { org: '' })).org_id, null, 'an empty org is none');
    const adminPat = await mintPat(admin, { scopes: ['mcp:read'] });
    assert.equal((await v.verify(adminPat.token, { org: org.id })).org_role, 'admin');
  });

  describe('adapters read x-org-id by default; `org` picks it from elsewhere, or `false` names none', () => {
    let org: { id: string; slug: string };
    let elsewhere: { id: string; slug: string };
    let pat: string;
    let v: Verifier;
    const prm = metadataUrl(OPEN_URL);
    const seen = (p: Principal) => ({ org_id: p.org_id, org_slug: p.org_slug, org_role: p.org_role });

    before(async () => {
      const roles = await orgWithRoles(t);
      org = roles.org;
      elsewhere = (await t.client().signup()).org;
      pat = (await mintPat(roles.member, { scopes: ['mcp:read'] })).token;
      v = createVerifier({
        issuer: PUBLIC_URL,
        resource: OPEN_URL,
        credentials: { id: OPEN_ID, secret: OPEN_SECRET },
        acceptApiTokens: true,
        revocationStream: false,
        fetch: net() as typeof fetch,
      });
    });
    after(() => v.close());

    /** Asserts the three answers every adapter gives: in the org, refused elsewhere, none named. */
    async function expectOrgs(call: (headers: Record<string, string>) => Promise<Response>) {
      const auth = { authorization: `Bearer ${pat}` };
      const inOrg = await call({ ...auth, 'x-org-id': org.slug });
      assert.equal(inOrg.status, 200, await inOrg.clone().text());
      assert.deepEqual(await inOrg.json(), { org_id: org.id, org_slug: org.slug, org_role: 'member' });
      const refused = await call({ ...auth, 'x-org-id': elsewhere.id });
      assert.equal(refused.status, 403);
      assert.equal(refused.headers.get('cache-control'), 'no-store');
      assert.equal(((await refused.json()) as { error: string }).error, 'org_forbidden');
      const none = await call(auth);
      assert.deepEqual(await none.json(), { org_id: null, org_slug: null, org_role: null });
    }

    it('express (and a custom `org` from the query string)', async () => {
      const app = express();
      app.get('/', expressMiddleware(v, { resourceMetadataUrl: prm }), (req, res) => {
        res.json(seen((req as Request & { latchkey: Principal }).latchkey));
      });
      const byQuery = expressMiddleware(v, {
        resourceMetadataUrl: prm,
        org: (req: Request) => (typeof req.query.org === 'string' ? req.query.org : undefined),
      });
      app.get('/q', byQuery, (req, res) => {
        res.json(seen((req as Request & { latchkey: Principal }).latchkey));
      });
      const server = createServer(app);
      servers.push(server);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      await expectOrgs((headers) => fetch(`${base}/`, { headers }));
      const q = await fetch(`${base}/q?org=${org.id}`, {
        headers: { authorization: `Bearer ${pat}`, 'x-org-id': elsewhere.id },
      });
      assert.equal(q.status, 200, 'the header is not read when `org` says where the org is');
      assert.equal(((await q.json()) as { org_role: string }).org_role, 'member');
    });

    it('hono (and `org: false`)', async () => {
      const app = new Hono<LatchkeyEnv>();
      app.get('/', honoMiddleware(v, { resourceMetadataUrl: prm }), (c) => c.json(seen(c.get('latchkey'))));
      app.get('/off', honoMiddleware(v, { resourceMetadataUrl: prm, org: false }), (c) =>
        c.json(seen(c.get('latchkey'))),
      );
      await expectOrgs(async (headers) => app.request('/', { headers }));
      const off = await app.request('/off', {
        headers: { authorization: `Bearer ${pat}`, 'x-org-id': elsewhere.id },
      });
      assert.equal(off.status, 200);
      assert.equal(((await off.json()) as { org_id: null }).org_id, null);
    });

    it('fastify', async () => {
      const app = Fastify();
      app.get('/', { preHandler: fastifyHook(v, { resourceMetadataUrl: prm }) }, async (req) =>
        seen((req as unknown as { latchkey: Principal }).latchkey),
      );
      await expectOrgs(async (headers) => {
        const res = await app.inject({ method: 'GET', url: '/', headers });
        return new Response(res.body, {
          status: res.statusCode,
          headers: res.headers as Record<string, string>,
        });
      });
      await app.close();
    });

    it('fetch runtimes (protectRequest)', async () => {
      const protect = protectRequest(v, { resourceMetadataUrl: prm });
      await expectOrgs(async (headers) => {
        const out = await protect(new Request('http://resource.example/', { headers }));
        return out instanceof Response ? out : Response.json(seen(out));
      });
    });

    it('refuses an `org` option that is not a function or false, at start-up', () => {
      for (const org of ['x-org-id', true, 5])
        assert.throws(
          () => expressMiddleware(v, { resourceMetadataUrl: prm, org: org as never }),
          /org must be a function/,
        );
    });
  });
});
