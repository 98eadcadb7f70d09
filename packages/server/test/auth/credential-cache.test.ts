// test-backend: external — two nodes sharing a Redis
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openCache } from '../../src/cache/index.js';
import type { Cache, ChangeLog } from '../../src/cache/types.js';
import { AuthCache, type CachedCredential } from '../../src/auth/credential-cache.js';
import { systemClock } from '../../src/lib/clock.js';
import { recordRevocation, revocationLogReader } from '../../src/oauth/store/revocation-log.js';
import { BACKEND, openTestStorage, type TestStorage } from '../helpers/storage.js';

// Issue 23, failures 1 and 2, at the level of two nodes' caches over one Redis and one database:
// `changed()` used to return once Redis acknowledged the publish, and the other node went on
// serving its cached credential until its subscriber ran; a change whose publish failed never
// reached the other node at all.

const external = BACKEND === 'external';
let storage: TestStorage;
let second: Cache;

before(async () => {
  if (!external) return;
  storage = await openTestStorage();
  second = await openCache({ redisUrl: storage.redisUrl!, prefix: storage.redisPrefix! });
});
after(async () => {
  if (!external) return;
  await second.close();
  await storage.close();
});

/** A cache whose shared change log can be made unreachable, as during a Redis outage. */
function breakable(cache: Cache): { cache: Cache; down: (v: boolean) => void } {
  let isDown = false;
  const log = cache.changeLog!;
  const fail = () => Promise.reject(new Error('Connection is closed.'));
  const changeLog: ChangeLog = {
    append: (c, m) => (isDown ? fail() : log.append(c, m)),
    read: (a, n) => (isDown ? fail() : log.read(a, n)),
    end: () => (isDown ? fail() : log.end()),
    onLost: (l) => log.onLost(l),
  };
  return { cache: Object.assign(Object.create(cache) as Cache, { changeLog }), down: (v) => (isDown = v) };
}

function credential(id: string): CachedCredential {
  return {
    id,
    expiresAt: null,
    boundOrg: null,
    principal: {
      kind: 'pat',
      user: { id, email: 'x@example.com', name: 'X' },
      sessionId: null,
      boundOrg: null,
      defaultOrgId: null,
      scopes: ['account:read'],
      prefix: 'p',
      actor: `pat:${id}`,
      superuser: false,
      tokenId: id,
      expiresAt: null,
      fromSession: false,
      emailVerified: true,
      signedInAt: null,
    },
  };
}

async function node(cache: Cache): Promise<AuthCache> {
  const deps = { db: storage.storage.db, clock: systemClock };
  const auth = new AuthCache(cache, 100);
  auth.onChange = (change) => recordRevocation(deps, change);
  await auth.start({ replay: revocationLogReader(deps) });
  return auth;
}

describe('credential caches of two nodes', { skip: external ? false : 'needs Redis' }, () => {
  it('a change is in force on the other node as soon as changed() returns', async () => {
    const a = await node(storage.cache);
    const b = await node(second);
    try {
      for (let i = 0; i < 50; i++) {
        const hash = `race-${i}`;
        await b.sync();
        b.putCredential(hash, credential(hash), b.generation());
        assert.ok(b.credential(hash), 'cached on B');
        await a.changed({ token: hash });
        // What a request arriving now does on B: read the shared log, then look the credential up.
        await b.sync();
        assert.equal(b.credential(hash), undefined, `B dropped ${hash} before its next request`);
      }
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('reads of the log asked in one turn share one answer; a later read sees later changes', async () => {
    const log = second.changeLog!;
    const a = await node(storage.cache);
    try {
      const from = await log.end();
      // Requests arriving together ask for the same position before the read has left: one XRANGE.
      const first = log.read(from, 10);
      assert.equal(log.read(from, 10), first, 'the same read, shared');
      assert.notEqual(log.read(from, 5), first, 'another page is another read');
      assert.deepEqual(await first, []);
      await a.changed({ token: 'after-the-shared-read' });
      // The shared read has left and been answered: a request arriving now reads again.
      const later = log.read(from, 10);
      assert.notEqual(later, first);
      assert.deepEqual(
        (await later).map((e) => JSON.parse(e.message) as unknown),
        [{ token: 'after-the-shared-read' }],
      );
    } finally {
      await a.stop();
    }
  });

  it('a node that cannot read the log trusts no cached credential, and replays what it missed', async () => {
    const brokenA = breakable(storage.cache);
    const brokenB = breakable(second);
    const a = await node(brokenA.cache);
    const b = await node(brokenB.cache);
    try {
      await b.sync();
      b.putCredential('kept', credential('kept'), b.generation());
      b.putCredential('revoked', credential('revoked'), b.generation());
      b.putCredential('unknown', null, b.generation());
      brokenA.down(true);
      brokenB.down(true);
      await b.sync();
      assert.equal(b.trusted, false);
      assert.equal(b.credential('kept'), undefined, 'no cached positive while the log is unreadable');
      assert.equal(b.credential('unknown'), null, 'a cached negative still holds');
      // The publish fails: the change is committed and logged in the database, the request says so.
      const unannounced = a.unannounced;
      await a.changed({ token: 'revoked' });
      assert.equal(a.unannounced, unannounced + 1);
      brokenA.down(false);
      brokenB.down(false);
      await b.sync();
      assert.equal(b.trusted, true, 'trusted again after the replay');
      assert.equal(b.credential('revoked'), undefined, 'the missed revocation was replayed');
      assert.ok(b.credential('kept'), 'what was not revoked is still cached');
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
