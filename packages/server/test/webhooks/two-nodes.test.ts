import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { audit } from '../../src/audit/log.js';
import { openCache } from '../../src/cache/index.js';
import { openStorage } from '../../src/db/connection.js';
import { type TestServer, testServer } from '../helpers/harness.js';
import { openTestStorage, type TestStorage } from '../helpers/storage.js';
import { type Receiver, startReceiver, verified, waitFor, WEBHOOK_ENV } from './helpers.js';

const EVENTS = 60;

/**
 * A second node's own connections to the same database (PostgreSQL: its own pool and Redis
 * client). The embedded database is one process's, so there both nodes share its handle.
 */
async function secondNodeStorage(s: TestStorage): Promise<TestStorage> {
  if (!s.databaseUrl) return { ...s, close: async () => {} };
  const storage = await openStorage({ databaseUrl: s.databaseUrl, poolSize: 5 });
  const cache = await openCache({ redisUrl: s.redisUrl, prefix: s.redisPrefix ?? undefined });
  return {
    ...s,
    storage,
    cache,
    async close() {
      await cache.close();
      await storage.close();
    },
  };
}

/** A server whose close may be called again (the test stops both nodes before counting). */
function once(t: TestServer): TestServer {
  let closing: Promise<void> | null = null;
  const close = t.close.bind(t);
  return Object.assign(t, { close: () => (closing ??= close()) });
}

describe('webhooks on two nodes over one database', () => {
  let receiver: Receiver;
  let storage: TestStorage;
  let other: TestStorage;
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    receiver = await startReceiver();
    storage = await openTestStorage();
    other = await secondNodeStorage(storage);
    a = once(await testServer({ storage, env: { ...WEBHOOK_ENV } }));
    b = once(await testServer({ storage: other, env: { ...WEBHOOK_ENV } }));
  });
  after(async () => {
    await Promise.all([a.close(), b.close()]);
    await other.close();
    await storage.close();
    await receiver.close();
  });

  it('each delivery is sent by exactly one node', async () => {
    const owner = a.client();
    const { org } = await owner.signup({ name: 'Owner' });
    const res = await owner.post('/api/v1/org/webhooks', { url: receiver.url, events: ['*'] }, org.id);
    assert.equal(res.statusCode, 201, res.body);
    const { id: endpointId, secret } = res.json();
    const actor = `system:${crypto.randomUUID()}`;
    // All due at once, so both nodes' workers find them in the same moments.
    await a.deps.db.transaction().execute(async (trx) => {
      for (let i = 0; i < EVENTS; i++)
        await audit(
          trx,
          a.deps.clock,
          { actor, ip: null, userAgent: null },
          { orgId: org.id, action: 'org.updated' },
        );
    });
    await waitFor('every delivery delivered', async () => {
      const left = await a.deps.db
        .selectFrom('webhook_deliveries')
        .select('id')
        .where('endpoint_id', '=', endpointId)
        .where('status', '!=', 'delivered')
        .execute();
      return left.length === 0;
    });
    // Both nodes stop (each waits for what it has in flight) before anything is counted.
    await a.close();
    await b.close();
    const ours = receiver.received.filter((r) => r.body.includes(actor));
    const ids = ours.map((r) => verified(secret, r).data.id);
    assert.equal(new Set(ids).size, EVENTS);
    assert.equal(ours.length, EVENTS, 'a delivery was sent more than once');
    const attemptsLogged = [a, b].map(
      (n) => n.logs.filter((l) => l.includes('webhook delivery attempted') && l.includes(endpointId)).length,
    );
    const rows = await storage.storage.db
      .selectFrom('webhook_deliveries')
      .select('attempts')
      .where('endpoint_id', '=', endpointId)
      .execute();
    // The endpoint's own webhook.created event is one of its deliveries too.
    assert.equal(rows.length, EVENTS + 1);
    assert.ok(rows.every((r) => r.attempts === 1));
    assert.equal(
      attemptsLogged[0]! + attemptsLogged[1]!,
      rows.length,
      `attempts per node: ${attemptsLogged.join(', ')}`,
    );
  });
});
