import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createSessionChecker, VerifyError } from '../src/index.js';
import { type TestServer, testServer } from '@latchkey/server/testing';

describe('verifySession (tenant membership for a shared sign-in cookie)', () => {
  let t: TestServer;
  let issuer: string;
  before(async () => {
    t = await testServer();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    issuer = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
  });
  after(() => t.close());

  /** fetch that counts calls to Latchkey (the network is real). */
  function counting() {
    const c = Object.assign(
      async (input: string | URL | Request, init?: RequestInit) => {
        c.calls++;
        return fetch(input, init);
      },
      { calls: 0 },
    );
    return c;
  }
  let f = counting();

  it('answers membership and role for the cookie, only for the org asked about', async () => {
    const alice = t.client();
    const { org } = await alice.signup();
    const bob = t.client();
    const { org: bobOrg } = await bob.signup();
    f = counting();
    let now = Date.now();
    const checker = createSessionChecker({ issuer, fetch: f as typeof fetch, now: () => now });
    const cookie = `theme=dark; lk_session=${alice.cookie}; other=1`;
    const mine = await checker.verifySession(cookie, org.slug);
    assert.equal(mine?.member, true);
    assert.equal(mine?.role, 'owner');
    // Cross-org isolation: Alice's positive answer for her org never answers for Bob's.
    const theirs = await checker.verifySession(cookie, bobOrg.slug);
    assert.equal(theirs?.member, false);
    assert.equal(theirs?.role, null);
    assert.equal((await checker.verifySession(`lk_session=${bob.cookie}`, org.slug))?.member, false);
    assert.equal(f.calls, 3);
    // Cached: positive 30 s, negative 5 s.
    await checker.verifySession(cookie, org.slug);
    await checker.verifySession(cookie, bobOrg.slug);
    assert.equal(f.calls, 3);
    now += 5_001;
    await checker.verifySession(cookie, org.slug);
    await checker.verifySession(cookie, bobOrg.slug);
    assert.equal(f.calls, 4);
    now += 25_000;
    await checker.verifySession(cookie, org.slug);
    assert.equal(f.calls, 5);
    checker.close();
  });

  it('is null without a session cookie or with a dead one, and fails closed when Latchkey is down', async () => {
    const checker = createSessionChecker({ issuer });
    assert.equal(await checker.verifySession(undefined, 'x'), null);
    assert.equal(await checker.verifySession('theme=dark', 'x'), null);
    assert.equal(await checker.verifySession('lk_session=not-a-session', 'x'), null);
    checker.close();
    const down = createSessionChecker({ issuer: 'http://127.0.0.1:9' });
    await assert.rejects(
      down.verifySession('lk_session=abc', 'x'),
      (e: unknown) => e instanceof VerifyError && e.status === 503,
    );
    down.close();
  });

  it('stays bounded: at the cap a random share is evicted', async () => {
    const alice = t.client();
    const { org } = await alice.signup();
    const checker = createSessionChecker({ issuer, maxEntries: 10 });
    for (let i = 0; i < 25; i++)
      await checker.verifySession(`lk_session=${alice.cookie}`, `${org.slug}-${i}`);
    // Never more than the cap (observable through a fresh answer still being right).
    assert.equal((await checker.verifySession(`lk_session=${alice.cookie}`, org.slug))?.member, true);
    checker.close();
  });
});
