import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type TestServer, testServer } from '../helpers/harness.js';
import { MCP_ID, MCP_SECRET, OAUTH_TOML, tokensFor } from './helpers.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

interface Event {
  id: string;
  kind: string;
  value: string;
}

/** Reads server-sent events from a live response until `until` says stop (or 5 s pass). */
async function readEvents(res: Response, until: (events: Event[]) => boolean): Promise<Event[]> {
  const reader = res.body!.getReader();
  const events: Event[] = [];
  let buf = '';
  const deadline = Date.now() + 5000;
  try {
    while (!until(events) && Date.now() < deadline) {
      const chunk = await Promise.race([
        reader.read(),
        new Promise<{ done: true; value: undefined }>((r) =>
          setTimeout(() => r({ done: true, value: undefined }), deadline - Date.now()),
        ),
      ]);
      if (chunk.done) break;
      buf += Buffer.from(chunk.value).toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const id = /^id: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (id && data) events.push({ id, ...(JSON.parse(data) as { kind: string; value: string }) });
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return events;
}

describe('GET /api/v1/revocations/stream', () => {
  let t: TestServer;
  let base: string;
  before(async () => {
    t = await testServer({ toml: OAUTH_TOML });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
  });
  after(async () => {
    // A cancelled streaming fetch leaves undici a fresh socket that never sends a request: drop it.
    t.app.server.closeAllConnections();
    await t.close();
  });

  it("refuses anything but a resource server's credentials", async () => {
    for (const authorization of [
      undefined,
      basic(MCP_ID, 'wrong-secret-wrong-secret-wrong-secret'),
      'Bearer x',
    ]) {
      const res = await fetch(`${base}/api/v1/revocations/stream`, {
        headers: authorization ? { authorization } : {},
      });
      assert.equal(res.status, 401);
      await res.body?.cancel();
    }
  });

  it("announces a revoked grant's token hashes at once, and replays them from Last-Event-ID", async () => {
    const browser = t.client();
    await browser.signup();
    const { tokens } = await tokensFor(t, browser);
    const stream = await fetch(`${base}/api/v1/revocations/stream`, {
      headers: { authorization: basic(MCP_ID, MCP_SECRET) },
    });
    assert.equal(stream.status, 200);
    assert.match(String(stream.headers.get('content-type')), /^text\/event-stream/);
    const want = sha256(tokens.access_token);
    const grants = (await browser.get('/api/v1/me/grants')).json().data as { id: string }[];
    const wantRefresh = sha256(tokens.refresh_token!);
    // The grant's tokens are announced one by one: read until both have come.
    const reading = readEvents(
      stream,
      (ev) => ev.some((e) => e.value === want) && ev.some((e) => e.value === wantRefresh),
    );
    assert.equal((await browser.delete(`/api/v1/me/grants/${grants[0]!.id}`)).statusCode, 204);
    const events = await reading;
    const hit = events.find((e) => e.value === want);
    const logged = await t.deps.db.selectFrom('revocation_events').selectAll().execute();
    assert.ok(hit, `${JSON.stringify(events)} ${JSON.stringify(logged)} ${want}`);
    assert.equal(hit.kind, 'token');
    assert.ok(
      events.some((e) => e.value === wantRefresh),
      JSON.stringify(events),
    );

    // A reader that was away resumes after the last id it saw.
    const before = String(Number(hit.id) - 1);
    const resumed = await fetch(`${base}/api/v1/revocations/stream`, {
      headers: { authorization: basic(MCP_ID, MCP_SECRET), 'last-event-id': before },
    });
    const replay = await readEvents(resumed, (ev) => ev.some((e) => e.value === want));
    assert.ok(
      replay.some((e) => e.value === want),
      `status ${resumed.status} from ${before}: ${JSON.stringify(replay)}`,
    );
  });
  it('a reader that leaves, even before its stream starts, leaves nothing running', async () => {
    const streamsOpen = async () => {
      const m = /^latchkey_revocation_streams_open (\d+)$/m.exec((await t.app.inject('/metrics')).body);
      assert.ok(m, 'the gauge is published');
      return Number(m[1]);
    };
    const until = async (n: number) => {
      for (let i = 0; i < 500 && (await streamsOpen()) !== n; i++)
        await new Promise((r) => setTimeout(r, 10));
      return streamsOpen();
    };
    const reader = await fetch(`${base}/api/v1/revocations/stream`, {
      headers: { authorization: basic(MCP_ID, MCP_SECRET) },
    });
    assert.equal(await until(1), 1);
    await reader.body!.cancel();
    assert.equal(await until(0), 0);

    // Readers that send their request and hang up at once, while the server is still reading the
    // log's end or subscribing.
    const port = (t.app.server.address() as { port: number }).port;
    const request =
      'GET /api/v1/revocations/stream HTTP/1.1\r\nhost: 127.0.0.1\r\n' +
      `authorization: ${basic(MCP_ID, MCP_SECRET)}\r\naccept: text/event-stream\r\n\r\n`;
    await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          new Promise<void>((resolve, reject) => {
            const s = connect(port, '127.0.0.1', () => s.end(request, () => s.destroy()));
            s.on('error', reject);
            s.on('close', () => resolve());
          }),
      ),
    );
    // Every handler is past its awaits once no query has come for 300 ms.
    for (let seen = -1; seen !== t.queries.count;) {
      seen = t.queries.count;
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.equal(await streamsOpen(), 0, 'streams outlived their readers');
  });
});
