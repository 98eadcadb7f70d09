import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { createVerifier, tokenHash, type Verifier, type VerifierOptions, VerifyError } from '../src/index.js';
import { sseParser } from '../src/revocations.js';
import {
  MCP_ID,
  MCP_SECRET,
  MCP_URL,
  OAUTH_TOML,
  testServer,
  type TestServer,
  tokensFor,
} from '@latchkey/server/testing';

/** Waits for `cond`, polling; fails after `ms`. */
async function until(cond: () => boolean, what: string, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const open: Verifier[] = [];
const make = (o: VerifierOptions) => {
  const v = createVerifier(o);
  open.push(v);
  return v;
};
afterEach(() => {
  for (const v of open.splice(0)) v.close();
});

const invalidToken = (e: unknown) => e instanceof VerifyError && e.code === 'invalid_token';

function capture() {
  const logs = { warn: [] as string[], info: [] as string[] };
  return {
    logs,
    logger: { warn: (m: string) => logs.warn.push(m), info: (m: string) => logs.info.push(m) },
  };
}

describe('the revocation stream against a real Latchkey', () => {
  let t: TestServer;
  let issuer: string;
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
  });
  after(async () => {
    // Aborting a streaming fetch makes Node's undici open a fresh socket that never carries a
    // request; server.close() would wait on it until the headers timeout: drop it.
    t.app.server.closeAllConnections();
    await t.close();
  });

  it('a token whose grant is revoked is refused on the very next call, inside the cache window', async () => {
    const b = t.client();
    const signup = await t.app.inject({
      method: 'POST',
      url: '/api/auth/signup',
      headers: { origin: issuer },
      payload: { email: `sdk-rev-${Date.now()}@example.com`, password: 'a sturdy passphrase 42', name: 'R' },
    });
    b.cookie = signup.cookies.find((c) => c.name === 'lk_session')!.value;
    const origReq = b.req.bind(b);
    b.req = (r) => origReq({ ...r, headers: { origin: issuer, ...r.headers } });
    const token = (await tokensFor(t, b, { scope: 'mcp:read' })).tokens.access_token;

    let calls = 0;
    const counting = (async (input: string | URL | Request, init?: RequestInit) => {
      if (String(input).endsWith('/introspect')) calls++;
      return fetch(input, init);
    }) as typeof fetch;
    let now = Date.now();
    const { logs, logger } = capture();
    const v = make({
      issuer,
      resource: MCP_URL,
      credentials: { id: MCP_ID, secret: MCP_SECRET },
      fetch: counting,
      now: () => now,
      logger,
    });
    await v.verify(token);
    await until(() => v.health().revocations === 'connected', 'the stream to connect');
    // Cached now with the stream up: 30 s.
    v.forget(tokenHash(token));
    await v.verify(token);
    now += 20_000;
    await v.verify(token);
    assert.equal(calls, 2);

    const grants = (await b.get('/api/v1/me/grants')).json().data as { id: string }[];
    assert.equal((await b.delete(`/api/v1/me/grants/${grants[0]!.id}`)).statusCode, 204);
    const row = await t.deps.db
      .selectFrom('revocation_events')
      .select((eb) => eb.fn.max('id').as('id'))
      .executeTakeFirstOrThrow();
    const newest = Number(row.id);
    await until(() => Number(v.health().lastEventId ?? 0) >= newest, 'the revocation events');
    await assert.rejects(v.verify(token), invalidToken);
    assert.equal(calls, 3);
    assert.equal(v.health().revocations, 'connected');
    assert.equal(logs.warn.length, 0);
  });
});

interface StreamRequest {
  lastEventId: string | undefined;
  authorization: string | undefined;
  res: ServerResponse;
  started: boolean;
  closed: boolean;
}

/**
 * A real local HTTP server standing in for Latchkey: metadata, introspection (`answer`, decided
 * when the request arrives and held while `gate` is set) and a revocation stream the test drives.
 */
async function standIn(answer: (token: string) => Record<string, unknown>) {
  const st = {
    calls: 0,
    mode: 'sse' as 'sse' | 'refuse' | 'hold',
    streams: [] as StreamRequest[],
    gate: null as Promise<void> | null,
    url: '',
  };
  const start = (s: StreamRequest) => {
    s.started = true;
    s.res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' });
    s.res.write(': stand-in\nretry: 100\n\n');
  };
  const server = createServer((req, res) => {
    if (req.url === '/.well-known/oauth-authorization-server') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ issuer: st.url, introspection_endpoint: `${st.url}/introspect` }));
      return;
    }
    if (req.url === '/api/v1/revocations/stream') {
      const last = req.headers['last-event-id'];
      const s: StreamRequest = {
        lastEventId: typeof last === 'string' ? last : undefined,
        authorization: req.headers.authorization,
        res,
        started: false,
        closed: false,
      };
      st.streams.push(s);
      res.on('close', () => (s.closed = true));
      if (st.mode === 'refuse') return void res.writeHead(503).end();
      if (st.mode === 'sse') start(s);
      return;
    }
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', async () => {
      st.calls++;
      const a = JSON.stringify(answer(new URLSearchParams(body).get('token') ?? ''));
      if (st.gate) await st.gate;
      res.writeHead(200, { 'content-type': 'application/json' }).end(a);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  st.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const live = () => st.streams.filter((s) => s.started && !s.closed).at(-1);
  return Object.assign(st, {
    live,
    send(text: string) {
      const s = live();
      assert.ok(s, 'no open stream');
      s.res.write(text);
    },
    event(id: number, kind: string, value: string) {
      this.send(`id: ${id}\nevent: revoked\ndata: ${JSON.stringify({ kind, value })}\n\n`);
    },
    /** Drops every open stream's connection. */
    cut() {
      for (const s of st.streams) if (!s.closed) s.res.socket?.destroy();
    },
    release() {
      st.mode = 'sse';
      for (const s of st.streams) if (!s.started && !s.closed) start(s);
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  });
}

const FAR = 4_102_444_800; // 2100-01-01
const people: Record<string, { sub: string; org_id: string | null }> = {
  tA: { sub: 'u1', org_id: 'o1' },
  tB: { sub: 'u2', org_id: 'o1' },
  tC: { sub: 'u3', org_id: 'o2' },
  tD: { sub: 'u1', org_id: 'o3' },
};

describe('the revocation stream (stand-in Latchkey)', () => {
  let s: Awaited<ReturnType<typeof standIn>>;
  const revoked = new Set<string>();
  let now = Date.now();
  const verifier = (o: Partial<VerifierOptions> = {}) =>
    make({
      issuer: s.url,
      resource: MCP_URL,
      credentials: { id: 'my api', secret: 'p:ss/wörd' },
      now: () => now,
      logger: capture().logger,
      ...o,
    });
  before(async () => {
    s = await standIn((tok) => {
      const p = people[tok];
      if (!p || revoked.has(tok)) return { active: false };
      return { active: true, aud: MCP_URL, client_id: 'c', scope: 'mcp:read', exp: FAR, ...p };
    });
  });
  afterEach(() => {
    s.cut();
    s.mode = 'sse';
    s.gate = null;
    revoked.clear();
  });
  after(() => s.close());

  it("drops a revoked token's result at once, and every result of a person or an org", async () => {
    const v = verifier();
    await v.verify('tA');
    await until(() => v.health().revocations === 'connected', 'the stream');
    for (const tok of ['tA', 'tB', 'tC', 'tD']) v.forget(tokenHash(tok));
    for (const tok of ['tA', 'tB', 'tC', 'tD']) await v.verify(tok);
    const base = s.calls;
    const cachedStill = async (...toks: string[]) => {
      const before = s.calls;
      for (const tok of toks) await v.verify(tok);
      assert.equal(s.calls, before, `${toks.join(' ')} should be cached`);
    };

    revoked.add('tA');
    s.event(1, 'token', tokenHash('tA').toUpperCase());
    await until(() => v.health().lastEventId === '1', 'event 1');
    await assert.rejects(v.verify('tA'), invalidToken);
    assert.equal(s.calls, base + 1);
    await cachedStill('tB', 'tC', 'tD');

    // u1 also holds tD (in another org): both of u1's results go, nobody else's.
    s.event(2, 'user', 'u1');
    await until(() => v.health().lastEventId === '2', 'event 2');
    await v.verify('tD');
    assert.equal(s.calls, base + 2);
    await cachedStill('tB', 'tC');

    s.event(3, 'org', 'o2');
    await until(() => v.health().lastEventId === '3', 'event 3');
    await v.verify('tC');
    assert.equal(s.calls, base + 3);
    await cachedStill('tB', 'tD');
  });

  it('resumes from the last event id after the stream is cut, and parses events however they are split', async () => {
    const { logs, logger } = capture();
    const v = verifier({ logger });
    await v.verify('tA');
    await v.verify('tB');
    await until(() => v.health().revocations === 'connected', 'the stream');
    const first = s.live()!;
    // HTTP Basic with each part URL-encoded, exactly as for introspection.
    assert.equal(
      Buffer.from(first.authorization!.replace(/^Basic /, ''), 'base64').toString('utf8'),
      'my%20api:p%3Ass%2Fw%C3%B6rd',
    );
    assert.equal(first.lastEventId, undefined);
    revoked.add('tA');
    s.event(7, 'token', tokenHash('tA'));
    await until(() => v.health().lastEventId === '7', 'event 7');

    s.cut();
    await until(() => s.live() !== undefined && s.live() !== first, 'the reconnection');
    assert.equal(s.live()!.lastEventId, '7');
    await until(() => v.health().revocations === 'connected', 'the stream again');
    revoked.add('tB');
    for (const part of [
      ': keep-alive\r\n\r\nid: 8\r\nevent: revo',
      `ked\r\ndata: {"kind":"token",`,
      `"value":"${tokenHash('tB')}"}\r\n\r`,
      '\n',
      // A kind this SDK does not know is skipped, and its id still counts.
      'id: 9\nevent: revoked\ndata: {"kind":"client","value":"x"}\n\n',
    ]) {
      s.send(part);
    }
    await until(() => v.health().lastEventId === '9', 'events 8 and 9');
    await assert.rejects(v.verify('tA'), invalidToken);
    await assert.rejects(v.verify('tB'), invalidToken);
    assert.equal(logs.warn.length, 1, logs.warn.join('\n'));
    assert.equal(logs.info.length, 1, logs.info.join('\n'));
  });

  it('caches positives at most 5 s while the stream is not connected, logs each transition once, and health() says so', async () => {
    const { logs, logger } = capture();
    s.mode = 'hold';
    const v = verifier({ logger });
    assert.deepEqual(v.health(), { revocations: 'connecting', lastEventId: null });
    await v.verify('tA');
    await until(() => s.streams.some((r) => !r.started && !r.closed), 'the stream request');
    assert.equal(v.health().revocations, 'connecting');
    const c0 = s.calls;
    now += 4_999;
    await v.verify('tA');
    assert.equal(s.calls, c0);
    now += 2;
    await v.verify('tA');
    assert.equal(s.calls, c0 + 1);

    s.release();
    await until(() => v.health().revocations === 'connected', 'the stream');
    now += 5_001;
    await v.verify('tA'); // cached for 30 s from here
    now += 10_000;
    await v.verify('tA');
    assert.equal(s.calls, c0 + 2);
    assert.equal(logs.warn.length + logs.info.length, 0);

    // Down: what was cached for 30 s now lives at most 5 s more, and new results 5 s.
    s.mode = 'refuse';
    const attempts = s.streams.length;
    s.cut();
    await until(() => v.health().revocations === 'down', 'the stream to be down');
    now += 4_999;
    await v.verify('tA');
    assert.equal(s.calls, c0 + 2);
    now += 2;
    await v.verify('tA');
    assert.equal(s.calls, c0 + 3);
    now += 5_001;
    await v.verify('tA');
    assert.equal(s.calls, c0 + 4);
    // Refused again and again, reported once.
    await until(() => s.streams.length >= attempts + 3, 'three reconnection attempts');
    assert.notEqual(v.health().revocations, 'connected');
    assert.equal(logs.warn.length, 1);
    assert.match(logs.warn[0]!, /revocation stream is down .*at most 5 s/);
    assert.ok(!logs.warn[0]!.includes('p:ss') && !logs.warn[0]!.includes('tA'));
    assert.equal(logs.info.length, 0);

    s.mode = 'sse';
    await until(() => v.health().revocations === 'connected', 'the stream to come back');
    assert.equal(logs.info.length, 1);
    assert.equal(logs.warn.length, 1);
    now += 5_001;
    await v.verify('tA');
    now += 20_000;
    await v.verify('tA');
    assert.equal(s.calls, c0 + 5);
  });

  it('a revocation that arrives while Latchkey is being asked is not cached, and the call asks again', async () => {
    const v = verifier();
    await v.verify('tB');
    await until(() => v.health().revocations === 'connected', 'the stream');
    let release!: () => void;
    s.gate = new Promise<void>((r) => (release = r));
    const c0 = s.calls;
    const pending = v.verify('tA');
    await until(() => s.calls === c0 + 1, 'the introspection call');
    revoked.add('tA'); // Latchkey answered "active" before this; the event comes after.
    s.event(20, 'token', tokenHash('tA'));
    await until(() => v.health().lastEventId === '20', 'event 20');
    s.gate = null;
    release();
    await assert.rejects(pending, invalidToken);
    assert.equal(s.calls, c0 + 2);
    await assert.rejects(v.verify('tA'), invalidToken);
  });

  it('close() stops the stream: health() is off and the connection is closed', async () => {
    const v = verifier();
    await v.verify('tA');
    await until(() => v.health().revocations === 'connected', 'the stream');
    const stream = s.live()!;
    v.close();
    assert.equal(v.health().revocations, 'off');
    await until(() => stream.closed, 'the stream connection to close');
    assert.equal((await v.verify('tA')).sub, 'u1');
  });
});

describe('the event-stream parser', () => {
  it('follows the WHATWG rules for fields, line endings, comments, ids and retry', () => {
    const seen: [string, string | null, string | null][] = [];
    const retries: number[] = [];
    const p = sseParser({ dispatch: (...e) => seen.push(e), retry: (ms) => retries.push(ms) }, '4');
    for (const chunk of [
      ': comment\r',
      '\ndata: a\rdata:b\n\n',
      'id: 5\nevent: revoked\ndata: {"x":1}\n',
      '\nretry: 250\nretry: soon\nid\n\n',
      'event: x\nid: 6\0\n\n',
    ])
      p.push(chunk);
    assert.deepEqual(seen, [
      ['message', 'a\nb', '4'],
      ['revoked', '{"x":1}', '5'],
      ['message', null, null],
      ['x', null, null],
    ]);
    assert.deepEqual(retries, [250]);
  });
});
