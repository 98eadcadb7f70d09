import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { audit } from '../../src/audit/log.js';
import { readOutbox, type TestServer, testServer } from '../helpers/harness.js';
import { openTestStorage, type TestStorage } from '../helpers/storage.js';
import { type Receiver, startReceiver, verified, waitFor, WEBHOOK_ENV } from './helpers.js';

/** One event for `orgId`, written as the audit log writes every event; answers its actor. */
async function event(t: TestServer, orgId: string, action = 'org.updated'): Promise<string> {
  const actor = `system:${crypto.randomUUID()}`;
  await audit(t.deps.db, t.deps.clock, { actor, ip: null, userAgent: null }, { orgId, action });
  return actor;
}

async function delivery(t: TestServer, endpointId: string) {
  return t.deps.db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('endpoint_id', '=', endpointId)
    .orderBy('created_at')
    .execute();
}

describe('webhook retries', () => {
  let receiver: Receiver;
  let storage: TestStorage;
  before(async () => {
    receiver = await startReceiver();
    storage = await openTestStorage();
  });
  after(async () => {
    await storage.close();
    await receiver.close();
  });

  it('a failed delivery is retried, and the retry survives a restart of the server', async () => {
    const env = { ...WEBHOOK_ENV, WEBHOOK_RETRY_BASE_MS: '200' };
    const first = await testServer({ storage, env });
    const owner = first.client();
    const { org } = await owner.signup({ name: 'Owner' });
    const res = await owner.post('/api/v1/org/webhooks', { url: receiver.url, events: ['org.*'] }, org.id);
    assert.equal(res.statusCode, 201, res.body);
    const { id: endpointId, secret } = res.json();
    receiver.status = 503;
    const actor = await event(first, org.id);
    const ours = () => receiver.received.filter((r) => r.body.includes(actor));
    await waitFor('a failed attempt recorded', async () => {
      const [d] = await delivery(first, endpointId);
      return d !== undefined && d.attempts >= 1 && d.status === 'pending';
    });
    await first.close();
    const [pending] = await delivery(first, endpointId);
    assert.equal(pending!.status, 'pending');
    assert.equal(pending!.response_status, 503);
    assert.equal(pending!.error, 'http_503');
    assert.ok(pending!.next_attempt_at);

    // A new server over the same database picks the delivery up where the first left it.
    receiver.status = 200;
    const second = await testServer({ storage, env });
    try {
      await waitFor(
        'delivered after the restart',
        async () => (await delivery(second, endpointId))[0]?.status === 'delivered',
      );
      const [done] = await delivery(second, endpointId);
      assert.ok(done!.attempts > pending!.attempts);
      assert.equal(done!.response_status, 200);
      assert.equal(done!.next_attempt_at, null);
      // Every attempt was the same message, each signed afresh.
      const attempts = ours();
      assert.equal(attempts.length, done!.attempts);
      assert.equal(new Set(attempts.map((r) => r.headers['webhook-id'])).size, 1);
      for (const r of attempts) assert.equal(verified(secret, r).data.actor, actor);
      const endpoint = await second.deps.db
        .selectFrom('webhook_endpoints')
        .select(['enabled', 'failing_since'])
        .where('id', '=', endpointId)
        .executeTakeFirstOrThrow();
      assert.deepEqual(endpoint, { enabled: true, failing_since: null });
    } finally {
      await second.close();
    }
  });

  it('an endpoint that fails for the whole retry window is disabled and its owners mailed; resend works once it is fixed', async () => {
    const t = await testServer({
      storage,
      env: { ...WEBHOOK_ENV, WEBHOOK_RETRY_BASE_MS: '100', WEBHOOK_RETRY_WINDOW_SECONDS: '1' },
    });
    try {
      const owner = t.client();
      const { org, user } = await owner.signup({ name: 'Owner' });
      const url = `${receiver.url}?token=receiver-secret-in-query`;
      const res = await owner.post('/api/v1/org/webhooks', { url, events: ['org.updated'] }, org.id);
      assert.equal(res.statusCode, 201, res.body);
      const { id: endpointId, secret } = res.json();
      receiver.status = 500;
      const actor = await event(t, org.id);
      await waitFor('the endpoint disabled', async () => {
        const e = await owner.get(`/api/v1/org/webhooks/${endpointId}`, org.id);
        return e.json().enabled === false;
      });
      const e = (await owner.get(`/api/v1/org/webhooks/${endpointId}`, org.id)).json();
      assert.equal(e.disabled_reason, 'failing');
      const [failed] = (await owner.get(`/api/v1/org/webhooks/${endpointId}/deliveries`, org.id)).json().data;
      assert.equal(failed.status, 'failed');
      assert.ok(failed.attempts >= 2, `attempts: ${failed.attempts}`);
      assert.equal(failed.next_attempt_at, null);
      const disabledEvents = await t.deps.db
        .selectFrom('audit_events')
        .select(['actor', 'org_id'])
        .where('action', '=', 'webhook.disabled')
        .where('target', '=', `webhook:${endpointId}`)
        .execute();
      assert.deepEqual(disabledEvents, [{ actor: 'system', org_id: org.id }]);
      await waitFor('the owner mailed', async () =>
        (await readOutbox(t.outboxDir)).some(
          (m) => m.to === user.email && /webhook endpoint was disabled/.test(m.subject),
        ),
      );
      const mail = (await readOutbox(t.outboxDir)).find(
        (m) => m.to === user.email && /disabled/.test(m.subject),
      )!;
      assert.match(mail.text, /failed every delivery/);
      assert.ok(!mail.text.includes('receiver-secret-in-query'), 'the URL query is left out of the mail');

      // Fixed and enabled again, the failed delivery is resent: the same message, delivered.
      receiver.status = 204;
      assert.equal(
        (await owner.patch(`/api/v1/org/webhooks/${endpointId}`, { enabled: true }, org.id)).statusCode,
        200,
      );
      const resent = await owner.post(
        `/api/v1/org/webhooks/${endpointId}/deliveries/${failed.id}/resend`,
        undefined,
        org.id,
      );
      assert.equal(resent.statusCode, 202, resent.body);
      assert.equal(resent.json().status, 'pending');
      await waitFor('the resend delivered', async () => {
        const list = (await owner.get(`/api/v1/org/webhooks/${endpointId}/deliveries`, org.id)).json().data;
        return list.some(
          (d: { id: string; status: string }) => d.id === resent.json().id && d.status === 'delivered',
        );
      });
      const attempts = receiver.received.filter((r) => r.body.includes(actor));
      assert.equal(new Set(attempts.map((r) => r.headers['webhook-id'])).size, 1);
      assert.equal(verified(secret, attempts[attempts.length - 1]!).type, 'org.updated');
    } finally {
      await t.close();
    }
  });
});
