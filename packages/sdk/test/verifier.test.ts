import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { createVerifier, type Verifier, type VerifierOptions, VerifyError } from '../src/index.js';
// The SDK imports nothing from the server; its tests run against a real one.
import {
  MCP_ID,
  MCP_SECRET,
  MCP_URL,
  OAUTH_TOML,
  OTHER_URL,
  testServer,
  type TestServer,
  tokensFor,
} from '@latchkey/server/testing';

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const s = createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  return {
    url,
    close: () =>
      new Promise<void>((r) => {
        s.closeAllConnections();
        s.close(() => r());
      }),
  };
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

/** Waits for `cond`, polling; fails after `ms`. */
async function until(cond: () => boolean, what: string, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Every verifier a test makes is closed after it, so no stream outlives the test. */
const open: Verifier[] = [];
const make = (o: VerifierOptions) => {
  const v = createVerifier(o);
  open.push(v);
  return v;
};
afterEach(() => {
  for (const v of open.splice(0)) v.close();
});

const invalidToken = (e: unknown) =>
  e instanceof VerifyError && e.code === 'invalid_token' && e.status === 401;
const unavailable = (e: unknown) => e instanceof VerifyError && e.code === 'unavailable' && e.status === 503;

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
  after(async () => {
    // Aborting a streaming fetch makes Node's undici open a fresh socket that never carries a
    // request; server.close() would wait on it until the headers timeout: drop it.
    t.app.server.closeAllConnections();
    await t.close();
  });

  const verifier = (
    o: { now?: () => number; f?: ReturnType<typeof countingFetch>; resource?: string } = {},
  ) =>
    make({
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
    assert.equal(typeof p.expires_at, 'number');
    assert.equal(p.agent, undefined);
    assert.equal(p.limits, undefined);
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
      await assert.rejects(verifier().verify(bad), invalidToken);
    }
  });

  it('with the stream connected: positives cached up to 30 s, negatives 5 s, one call for concurrent checks', async () => {
    let now = Date.now();
    const f = countingFetch();
    const v = verifier({ now: () => now, f });
    await assert.rejects(v.verify('lk_at_warm_up'));
    await until(() => v.health().revocations === 'connected', 'the revocation stream');
    assert.equal(f.calls, 1);
    assert.equal(v.verifyCached(token), null, 'not asked yet: nothing to answer at once');
    await Promise.all(Array.from({ length: 5 }, () => v.verify(token)));
    assert.equal(f.calls, 2);
    // The cached answer, at once, under the same checks as verify.
    assert.equal(v.verifyCached(token, { scopes: ['mcp:read'] })?.sub, (await v.verify(token)).sub);
    assert.equal(v.verifyCached(token, { scopes: ['mcp:act'] }), null);
    now += 29_000;
    await v.verify(token);
    assert.equal(f.calls, 2);
    now += 2_000;
    assert.equal(v.verifyCached(token), null, 'expired from the cache');
    await v.verify(token);
    assert.equal(f.calls, 3);
    assert.equal(v.verifyCached('lk_at_unknown'), null);
    await assert.rejects(v.verify('lk_at_unknown'));
    await assert.rejects(v.verify('lk_at_unknown'));
    assert.equal(f.calls, 4);
    now += 5_001;
    await assert.rejects(v.verify('lk_at_unknown'));
    assert.equal(f.calls, 5);
  });

  it('a verifier for another resource never accepts this token', async () => {
    await assert.rejects(verifier({ resource: OTHER_URL }).verify(token), invalidToken);
  });
});

/** A real local HTTP server standing in for Latchkey: metadata and introspection, no stream. */
async function standIn(answer: (token: string) => Record<string, unknown> | number) {
  const state = { calls: 0, authorization: '' };
  const s = await listen((req, res) => {
    if (req.url === '/.well-known/oauth-authorization-server') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ issuer: s.url, introspection_endpoint: `${s.url}/introspect` }));
      return;
    }
    if (req.url !== '/introspect') return void res.writeHead(404).end();
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      state.calls++;
      state.authorization = req.headers.authorization ?? '';
      const a = answer(new URLSearchParams(body).get('token') ?? '');
      if (typeof a === 'number') return void res.writeHead(a).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(a));
    });
  });
  return Object.assign(state, { url: s.url, close: s.close });
}

const live = (extra: Record<string, unknown> = {}) => ({
  active: true,
  aud: MCP_URL,
  sub: 'u',
  org_id: 'o',
  client_id: 'c',
  scope: 'mcp:read',
  exp: Math.floor(Date.now() / 1000) + 3600,
  ...extra,
});

/** A stand-in's verifier, without the revocation stream (revocations.test.ts covers it). */
const quiet = (url: string, o: Partial<VerifierOptions> = {}) =>
  make({
    issuer: url,
    resource: MCP_URL,
    credentials: { id: 'a', secret: 'b' },
    revocationStream: false,
    ...o,
  });

describe('createVerifier failure modes (real local servers standing in for Latchkey)', () => {
  it('fails closed with 503 when Latchkey cannot be reached, and does not cache it', async () => {
    const v = quiet('http://127.0.0.1:9');
    for (let i = 0; i < 2; i++) await assert.rejects(v.verify('lk_at_x'), unavailable);
  });

  it('fails closed on a 5xx from introspection, then recovers without a stale answer', async () => {
    let broken = true;
    const s = await standIn(() => (broken ? 500 : live()));
    try {
      const v = quiet(s.url);
      await assert.rejects(v.verify('tok'), unavailable);
      broken = false;
      assert.equal((await v.verify('tok')).sub, 'u');
      assert.equal(s.calls, 2);
    } finally {
      await s.close();
    }
  });

  it('refuses an active token whose audience is another resource (confused deputy)', async () => {
    const s = await standIn(() => live({ aud: 'https://elsewhere.example/api' }));
    try {
      await assert.rejects(quiet(s.url).verify('tok'), invalidToken);
    } finally {
      await s.close();
    }
  });

  it("never caches a positive past the token's exp", async () => {
    let now = Date.now();
    const exp = Math.floor(now / 1000) + 2;
    const s = await standIn(() => live({ scope: '', exp }));
    try {
      const v = quiet(s.url, { now: () => now });
      await v.verify('tok');
      now = exp * 1000 + 1;
      await assert.rejects(v.verify('tok'), invalidToken);
      assert.equal(s.calls, 2);
    } finally {
      await s.close();
    }
  });

  it('answers 503 for an active answer it cannot read, and does not cache it', async () => {
    const bad: Record<string, unknown>[] = [
      live({ sub: undefined }),
      live({ exp: undefined }), // an OAuth access token always expires
      live({ client_id: undefined }),
      live({ org_id: 42 }),
      live({ scope: ['mcp:read'] }),
      live({ token_kind: 'pat', mcp_calls_per_day: 'lots' }),
      live({ token_kind: 'pat', mcp_calls_per_day: -1 }),
      live({ token_kind: 'svc_agent', agent: { id: 'a1' } }),
    ];
    let i = 0;
    const s = await standIn(() => bad[i]!);
    try {
      const v = quiet(s.url, { acceptApiTokens: true });
      for (; i < bad.length; i++) await assert.rejects(v.verify('tok'), unavailable, JSON.stringify(bad[i]));
      assert.equal(s.calls, bad.length);
    } finally {
      await s.close();
    }
  });

  it('sends the resource id:secret URL-encoded in HTTP Basic', async () => {
    const s = await standIn(() => live());
    try {
      await quiet(s.url, { credentials: { id: 'my api', secret: 'p:ss/wörd' } }).verify('tok');
      const sent = Buffer.from(s.authorization.replace(/^Basic /, ''), 'base64').toString('utf8');
      assert.equal(sent, 'my%20api:p%3Ass%2Fw%C3%B6rd');
    } finally {
      await s.close();
    }
  });
});

describe('Latchkey API tokens (stand-in Latchkey answering token_kind)', () => {
  const pat = {
    active: true,
    token_kind: 'pat',
    aud: MCP_URL,
    sub: 'user-1',
    email: 'ada@example.com',
    name: 'Ada',
    org_id: null,
    scope: 'mcp:read',
  };
  const agentKey = {
    active: true,
    token_kind: 'svc_agent',
    aud: [MCP_URL],
    sub: 'svc-9',
    org_id: 'org-3',
    scope: 'mcp:read mcp:run',
    exp: Math.floor(Date.now() / 1000) + 600,
    agent: { id: 'agent-7', claimed: false },
    mcp_calls_per_day: 250,
  };
  const answers: Record<string, Record<string, unknown>> = {
    pat,
    agent: agentKey,
    svc: { ...pat, token_kind: 'svc', sub: 'svc-1', org_id: 'org-1' },
    org: { ...pat, token_kind: 'org', sub: 'org-key-1', org_id: 'org-1' },
    oauth: live({ token_kind: 'oauth' }),
    legacy: live(),
    future: { ...pat, token_kind: 'something_new' },
    elsewhere: { ...pat, aud: OTHER_URL },
  };

  it('are refused as invalid_token unless the verifier accepts them, even when Latchkey says active', async () => {
    const s = await standIn((tok) => answers[tok] ?? { active: false });
    try {
      const v = quiet(s.url);
      for (const tok of ['pat', 'agent', 'svc', 'org'])
        await assert.rejects(v.verify(tok), invalidToken, tok);
      assert.equal((await v.verify('oauth')).token_kind, 'oauth');
      // A server that predates token_kind speaks only of OAuth tokens.
      assert.equal((await v.verify('legacy')).token_kind, 'oauth');
    } finally {
      await s.close();
    }
  });

  it('when accepted, map to the principal: no client, org and expiry may be null, agents and limits carried', async () => {
    const s = await standIn((tok) => answers[tok] ?? { active: false });
    try {
      const v = quiet(s.url, { acceptApiTokens: true });
      assert.deepEqual(await v.verify('pat', { scopes: ['mcp:read'] }), {
        sub: 'user-1',
        email: 'ada@example.com',
        name: 'Ada',
        org_id: null,
        org_slug: null,
        org_role: null,
        client_id: null,
        scopes: ['mcp:read'],
        token_kind: 'pat',
        expires_at: null,
      });
      assert.deepEqual(await v.verify('agent'), {
        sub: 'svc-9',
        email: null,
        name: null,
        org_id: 'org-3',
        org_slug: null,
        org_role: null,
        client_id: null,
        scopes: ['mcp:read', 'mcp:run'],
        token_kind: 'svc_agent',
        agent: { id: 'agent-7', claimed: false },
        expires_at: agentKey.exp,
        limits: { mcp_calls_per_day: 250 },
        limit_periods: { mcp_calls_per_day: 'day' },
      });
      assert.equal((await v.verify('svc')).token_kind, 'svc');
      assert.equal((await v.verify('org')).token_kind, 'org');
      // Audience and scope still hold on every call; an unknown kind is never accepted.
      await assert.rejects(v.verify('elsewhere'), invalidToken);
      await assert.rejects(v.verify('future'), invalidToken);
      await assert.rejects(
        v.verify('pat', { scopes: ['mcp:write'] }),
        (e: unknown) => e instanceof VerifyError && e.code === 'insufficient_scope',
      );
    } finally {
      await s.close();
    }
  });

  it('a principal without expires_at is cached the normal positive TTL (30 s), never refused as expired', async () => {
    let now = Date.now();
    const s = await standIn(() => pat);
    try {
      const v = quiet(s.url, { acceptApiTokens: true, now: () => now });
      await v.verify('pat');
      now += 29_999;
      await v.verify('pat');
      assert.equal(s.calls, 1);
      now += 2;
      await v.verify('pat');
      assert.equal(s.calls, 2);
      now += 10 * 365 * 86_400_000;
      assert.equal((await v.verify('pat')).expires_at, null);
    } finally {
      await s.close();
    }
  });

  it('health() is off when the stream is disabled', () => {
    assert.deepEqual(quiet('http://127.0.0.1:9').health(), { revocations: 'off', lastEventId: null });
  });
});
