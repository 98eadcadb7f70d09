import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { audit } from '../../src/audit/log.js';
import { orderedId } from '../../src/audit/ordered-id.js';
import { EVENT_TYPES } from '../../src/webhooks/events.js';
import { type Client, type TestServer, testServer, uniqueEmail } from '../helpers/harness.js';
import { inviteToken } from '../orgs/helpers.js';
import {
  type EventPayload,
  type Receiver,
  startReceiver,
  verified,
  waitFor,
  WEBHOOK_ENV,
} from './helpers.js';

describe('webhook delivery: every audit event, signed with Standard Webhooks', () => {
  let t: TestServer;
  let receiver: Receiver;
  let owner: Client;
  let org: { id: string };
  let secret: string;
  let endpointId: string;

  /** Everything received so far, verified with `key`; a request that does not verify fails the test. */
  const events = (key = secret) => receiver.received.map((r) => verified(key, r));
  const typesSeen = () => new Set(events().map((e) => e.type));

  before(async () => {
    receiver = await startReceiver();
    t = await testServer({ env: { ...WEBHOOK_ENV } });
    owner = t.client();
    ({ org } = await owner.signup({ name: 'Owner' }));
    const res = await owner.post('/api/v1/org/webhooks', { url: receiver.url, events: ['*'] }, org.id);
    assert.equal(res.statusCode, 201, res.body);
    ({ secret, id: endpointId } = res.json());
  });
  after(async () => {
    await t.close();
    await receiver.close();
  });

  it('what people do through the API reaches the endpoint, signed, as it happened', async () => {
    // Members: invited, joined (invitation accepted), role changed, removed.
    const email = uniqueEmail('joiner');
    const { token } = await inviteToken(t, owner, org.id, email, 'member');
    const joiner = t.client();
    const { user } = await joiner.signup({ email, name: 'Joiner' });
    assert.equal((await joiner.post('/api/v1/invitations/accept', { token })).statusCode, 200);
    assert.equal(
      (await owner.patch(`/api/v1/org/members/${user.id}`, { role: 'admin' }, org.id)).statusCode,
      200,
    );
    assert.equal((await owner.delete(`/api/v1/org/members/${user.id}`, org.id)).statusCode, 204);
    // An org key minted and revoked; an OAuth app created and its secret rotated.
    const key = await owner.post('/api/v1/org/tokens', { name: 'deploys' }, org.id);
    assert.equal(key.statusCode, 201, key.body);
    assert.equal((await owner.delete(`/api/v1/org/tokens/${key.json().id}`, org.id)).statusCode, 204);
    const app = await owner.post(
      '/api/v1/oauth/clients',
      { name: 'CI', type: 'confidential', redirect_uris: ['https://ci.example.com/callback'] },
      org.id,
    );
    assert.equal(app.statusCode, 201, app.body);
    assert.equal(
      (await owner.post(`/api/v1/oauth/clients/${app.json().id}/secret`, undefined, org.id)).statusCode,
      200,
    );

    const wanted = [
      'invitation.created',
      'invitation.accepted',
      'member.role_changed',
      'member.removed',
      'token.created',
      'token.revoked',
      'oauth.client_created',
      'oauth.client_secret_rotated',
    ];
    await waitFor(
      () => `every event delivered; missing ${wanted.filter((w) => !typesSeen().has(w)).join(', ')}`,
      () => wanted.every((w) => typesSeen().has(w)),
    );
    const byType = new Map(events().map((e) => [e.type, e]));
    const removed = byType.get('member.removed')!;
    assert.equal(removed.data.org_id, org.id);
    assert.equal(removed.data.target, `user:${user.id}`);
    assert.deepEqual(byType.get('member.role_changed')!.data.data, { from: 'member', to: 'admin' });
    // Each event is one message: its id is the audit event's, the same in the header and the body.
    for (const r of receiver.received) {
      const e = verified(secret, r);
      assert.equal(r.headers['webhook-id'], `msg_${e.data.id}`);
      assert.equal(r.headers['content-type'], 'application/json');
    }
    // Nothing secret travels: no token, no client secret in any payload.
    const bodies = receiver.received.map((r) => r.body).join('\n');
    assert.ok(!bodies.includes(key.json().token));
    assert.ok(!bodies.includes(app.json().client_secret));
    // The receiver answers before the delivery is marked delivered: the log catches up just after.
    let delivered: { status: string; response_status: number; attempts: number }[] = [];
    await waitFor('the delivery log shows every event delivered', async () => {
      const log = await owner.get(`/api/v1/org/webhooks/${endpointId}/deliveries?limit=500`, org.id);
      assert.equal(log.statusCode, 200);
      delivered = log.json().data.filter((d: { status: string }) => d.status === 'delivered');
      return delivered.length >= wanted.length;
    });
    assert.ok(delivered.length >= wanted.length);
    assert.equal(delivered[0]!.response_status, 204);
    assert.equal(delivered[0]!.attempts, 1);
  });

  it('every event type the audit log records is delivered, and only to the endpoints that asked for it', async () => {
    const other = t.client();
    const { org: otherOrg } = await other.signup({ name: 'Other' });
    const family = await owner.post(
      '/api/v1/org/webhooks',
      { url: `${receiver.url}/members`, events: ['member.*'] },
      org.id,
    );
    assert.equal(family.statusCode, 201, family.body);
    const who = { actor: `system:${crypto.randomUUID()}`, ip: null, userAgent: null };
    for (const action of EVENT_TYPES) {
      await audit(t.deps.db, t.deps.clock, who, { orgId: org.id, action });
      await audit(t.deps.db, t.deps.clock, who, { orgId: otherOrg.id, action });
    }
    const ours = () => receiver.received.filter((r) => r.body.includes(who.actor));
    const memberTypes = EVENT_TYPES.filter((e) => e.startsWith('member.'));
    await waitFor('every type delivered', () => ours().length >= EVENT_TYPES.length + memberTypes.length);
    // Which endpoint each request went to is its URL path, and each is signed with that endpoint's secret.
    const familySecret = family.json().secret as string;
    const starSeen = new Map<string, EventPayload>();
    const familySeen: string[] = [];
    for (const r of ours()) {
      const toFamily = r.path === '/hook/members';
      const e = verified(toFamily ? familySecret : secret, r);
      assert.throws(() => verified(toFamily ? secret : familySecret, r), /signature/i);
      if (toFamily) familySeen.push(e.type);
      else starSeen.set(e.type, e);
      // The other org's events never reach this org's endpoints.
      assert.equal(e.data.org_id, org.id);
    }
    assert.deepEqual([...starSeen.keys()].sort(), [...EVENT_TYPES].sort());
    assert.deepEqual(familySeen.sort(), memberTypes.sort());
    // The other org's events made no delivery at all (it has no endpoint; this org's do not match).
    const leaked = await t.deps.db
      .selectFrom('webhook_deliveries')
      .select('id')
      .where('payload', 'like', `%${otherOrg.id}%`)
      .execute();
    assert.deepEqual(leaked, []);
  });

  it('audit rows written by one statement each get their own deliveries, and only where they match', async () => {
    const other = t.client();
    const { org: otherOrg } = await other.signup({ name: 'Other again' });
    const members = await owner.post(
      '/api/v1/org/webhooks',
      { url: `${receiver.url}/only-members`, events: ['member.added'] },
      org.id,
    );
    assert.equal(members.statusCode, 201, members.body);
    const membersId = members.json().id as string;
    const actor = `system:${crypto.randomUUID()}`;
    const now = t.deps.clock.now();
    // One statement, as a group of grants writes its events: this org's, another org's, and an
    // org-less event (which only instance endpoints could ask for).
    const rows = [
      { org_id: org.id, action: 'member.added' },
      { org_id: org.id, action: 'oauth.token_issued' },
      { org_id: otherOrg.id, action: 'member.added' },
      { org_id: org.id, action: 'member.added' },
      { org_id: null, action: 'member.added' },
    ].map((r, i) => ({
      ...r,
      id: orderedId(now.getTime() + i),
      actor,
      target: null,
      ip: null,
      user_agent: null,
      created_at: now,
      data: JSON.stringify({ n: i }),
      subject_user_id: null,
    }));
    await t.deps.db.insertInto('audit_events').values(rows).execute();
    const queued = await t.deps.db
      .selectFrom('webhook_deliveries')
      .select(['endpoint_id', 'event_id', 'event_type', 'payload'])
      .where(
        'event_id',
        'in',
        rows.map((r) => r.id),
      )
      .execute();
    // (The org's endpoints from the tests before match too; these two are this test's to check.)
    const got = queued
      .filter((d) => d.endpoint_id === endpointId || d.endpoint_id === membersId)
      .map((d) => `${d.event_id} ${d.endpoint_id}`)
      .sort();
    const want = [
      `${rows[0]!.id} ${endpointId}`,
      `${rows[0]!.id} ${membersId}`,
      `${rows[1]!.id} ${endpointId}`,
      `${rows[3]!.id} ${endpointId}`,
      `${rows[3]!.id} ${membersId}`,
    ].sort();
    assert.deepEqual(got, want);
    // Nothing for the other org's event, or for the org-less one (no instance endpoint here).
    assert.deepEqual(
      queued.filter((d) => d.event_id === rows[2]!.id || d.event_id === rows[4]!.id),
      [],
    );
    // Each payload is its own row's event.
    for (const d of queued) {
      const row = rows.find((r) => r.id === d.event_id)!;
      const p = JSON.parse(d.payload) as EventPayload;
      assert.equal(p.type, row.action);
      assert.equal(p.data.id, row.id);
      assert.equal(p.data.org_id, row.org_id);
      assert.deepEqual(p.data.data, JSON.parse(row.data));
      assert.equal(p.timestamp, now.toISOString());
      assert.equal(d.event_type, row.action);
    }
    const ours = () => receiver.received.filter((r) => r.body.includes(actor));
    await waitFor('every delivery sent', () => ours().length === queued.length);
  });
});
