import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HOUR, manualClock } from '../../src/lib/clock.js';
import {
  type Client,
  lastMailTo,
  linkIn,
  PUBLIC_URL,
  type TestServer,
  testServer,
  tokenFrom,
  uniqueEmail,
} from '../helpers/harness.js';
import {
  type AuditEvent,
  allPages,
  assertProblem,
  auditPage,
  auditRows,
  join,
  stranger,
  team,
} from './helpers.js';

const clock = manualClock(new Date('2026-03-01T09:00:00Z'));
let t: TestServer;
before(async () => {
  t = await testServer({ clock });
});
after(() => t.close());

const actions = (events: AuditEvent[]) => events.map((e) => e.action);

/** Sends every request with this user agent. */
function withAgent(c: Client, ua: string) {
  return (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown, org?: string) =>
    c.req({ method, url, body, headers: { 'user-agent': ua }, ...(org ? { org } : {}) });
}

describe('what the audit log records', () => {
  it('writes every org, member, role and invitation change with actor user:<id>, ip and user agent', async () => {
    const boss = await stranger(t, 'Boss');
    const bossDo = withAgent(boss.client, 'boss-agent/1.0');
    const created = await bossDo('POST', '/api/v1/orgs', { name: 'Audited' });
    assert.equal(created.statusCode, 201, created.body);
    const org = created.json().id as string;
    const step = async (p: Promise<{ statusCode: number; body: string }>, status: number) => {
      const res = await p;
      assert.equal(res.statusCode, status, res.body);
      clock.advance(1000);
      return res;
    };
    clock.advance(1000);
    await step(bossDo('PATCH', '/api/v1/org', { name: 'Audited Inc' }, org), 200);
    const emailA = uniqueEmail('a');
    const emailB = uniqueEmail('b');
    await step(bossDo('POST', '/api/v1/org/invitations', { email: emailA, role: 'member' }, org), 201);
    const invB = (
      await step(bossDo('POST', '/api/v1/org/invitations', { email: emailB, role: 'admin' }, org), 201)
    ).body;
    await step(bossDo('POST', `/api/v1/org/invitations/${JSON.parse(invB).id}/resend`, undefined, org), 200);
    await step(bossDo('DELETE', `/api/v1/org/invitations/${JSON.parse(invB).id}`, undefined, org), 204);
    // A accepts with their own agent and address.
    const a = t.client();
    const { user: userA } = await a.signup({ email: emailA, name: 'A' });
    const token = tokenFrom(linkIn((await lastMailTo(t.outboxDir, emailA)).text, `${PUBLIC_URL}/invite`));
    clock.advance(1000);
    await step(withAgent(a, 'a-agent/2.0')('POST', '/api/v1/invitations/accept', { token }), 200);
    await step(bossDo('PATCH', `/api/v1/org/members/${userA.id}`, { role: 'admin' }, org), 200);
    const c = await join(t, boss.client, org, 'member', 'C');
    clock.advance(1000);
    await step(bossDo('DELETE', `/api/v1/org/members/${c.id}`, undefined, org), 204);
    await step(bossDo('POST', '/api/v1/org/transfer-ownership', { user_id: userA.id }, org), 200);
    await step(bossDo('DELETE', `/api/v1/org/members/${boss.id}`, undefined, org), 204);
    await step(withAgent(a, 'a-agent/2.0')('DELETE', '/api/v1/org', undefined, org), 204);

    const byBoss = { actor: `user:${boss.id}`, ip: boss.client.ip, user_agent: 'boss-agent/1.0' };
    const byA = { actor: `user:${userA.id}`, ip: a.ip, user_agent: 'a-agent/2.0' };
    const expected: [string, typeof byBoss | null][] = [
      ['org.created', byBoss],
      ['org.updated', byBoss],
      ['invitation.created', byBoss],
      ['invitation.created', byBoss],
      ['invitation.resent', byBoss],
      ['invitation.revoked', byBoss],
      ['invitation.accepted', byA],
      ['member.role_changed', byBoss],
      ['invitation.created', null],
      ['invitation.accepted', null],
      ['member.removed', byBoss],
      ['org.ownership_transferred', byBoss],
      ['member.left', byBoss],
      ['org.deleted', byA],
    ];
    // The org is gone, so read its rows from the database: they outlive it.
    const rows = (await auditRows(t, org)).sort(
      (x, y) => x.created_at.getTime() - y.created_at.getTime() || (x.id < y.id ? -1 : 1),
    );
    assert.deepEqual(
      rows.map((r) => r.action),
      expected.map(([action]) => action),
    );
    rows.forEach((r, i) => {
      const who = expected[i]?.[1];
      if (who)
        assert.deepEqual({ actor: r.actor, ip: r.ip, user_agent: r.user_agent }, who, `${r.action} #${i}`);
      assert.match(r.actor, /^user:[0-9a-f-]{36}$/, r.action);
    });
  });

  it('records the connecting address, not a forwarded one, and bounds the user agent', async () => {
    const me = await stranger(t);
    const res = await me.client.req({
      method: 'PATCH',
      url: '/api/v1/org',
      body: { name: 'Spoofed' },
      org: me.org.id,
      headers: { 'x-forwarded-for': '203.0.113.9', 'user-agent': `ua-${'x'.repeat(2000)}` },
    });
    assert.equal(res.statusCode, 200, res.body);
    const [ev] = (await auditPage(me.client, me.org.id, 'action=org.updated')).data;
    assert.equal(ev?.ip, me.client.ip);
    assert.equal(ev?.user_agent, `ua-${'x'.repeat(509)}`);
  });

  it('lists newest first, even for changes made within the same millisecond', async () => {
    const me = await stranger(t);
    const names = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight'];
    // The clock does not move: every event carries the same timestamp.
    for (const name of names)
      assert.equal((await me.client.patch('/api/v1/org', { name }, me.org.id)).statusCode, 200);
    const events = (await auditPage(me.client, me.org.id, 'action=org.updated')).data;
    assert.deepEqual(
      events.map((e) => e.data.name),
      [...names].reverse(),
    );
    assert.equal(new Set(events.map((e) => e.created_at)).size, 1, 'all in one millisecond');
    const paged = (
      await allPages<AuditEvent>(me.client, '/api/v1/audit', me.org.id, 'action=org.updated&limit=3')
    ).flat();
    assert.deepEqual(
      paged.map((e) => e.id),
      events.map((e) => e.id),
      'pages follow the same order',
    );
  });
});

describe('GET /api/v1/audit filters and pages', () => {
  /** A team, then four changes an hour apart: the times of each are returned. */
  async function history() {
    const tm = await team(t);
    const { org, people } = tm;
    clock.advance(HOUR);
    const t1 = clock.now();
    assert.equal(
      (
        await people.owner.client.patch(
          `/api/v1/org/members/${people.member.id}`,
          { role: 'billing' },
          org.id,
        )
      ).statusCode,
      200,
    );
    clock.advance(HOUR);
    const t2 = clock.now();
    assert.equal(
      (await people.admin.client.delete(`/api/v1/org/members/${people.billing.id}`, org.id)).statusCode,
      204,
    );
    clock.advance(HOUR);
    const t3 = clock.now();
    assert.equal((await people.member.client.delete('/api/v1/org/membership', org.id)).statusCode, 204);
    clock.advance(HOUR);
    const t4 = clock.now();
    const invited = uniqueEmail('late');
    assert.equal(
      (await people.admin.client.post('/api/v1/org/invitations', { email: invited, role: 'member' }, org.id))
        .statusCode,
      201,
    );
    clock.advance(HOUR);
    return { ...tm, t1, t2, t3, t4, invited };
  }

  it('filters by exact action and by an action family', async () => {
    const h = await history();
    const c = h.people.owner.client;
    assert.deepEqual(actions((await auditPage(c, h.org.id, 'action=member.role_changed')).data), [
      'member.role_changed',
    ]);
    assert.deepEqual(actions((await auditPage(c, h.org.id, 'action=member.*')).data), [
      'member.left',
      'member.removed',
      'member.role_changed',
    ]);
    assert.deepEqual(actions((await auditPage(c, h.org.id, 'action=invitation.*')).data), [
      'invitation.created',
      'invitation.accepted',
      'invitation.created',
      'invitation.accepted',
      'invitation.created',
      'invitation.accepted',
      'invitation.created',
    ]);
    // A family prefix is not an exact action, and wildcards in the filter are literal.
    for (const q of [
      'action=member',
      'action=member.',
      'action=%25',
      'action=%25.*',
      'action=_ember.*',
      'action=*',
    ]) {
      assert.deepEqual((await auditPage(c, h.org.id, q)).data, [], q);
    }
  });

  it('filters by actor', async () => {
    const h = await history();
    const events = (await auditPage(h.people.owner.client, h.org.id, `actor=user:${h.people.admin.id}`)).data;
    assert.deepEqual(actions(events), ['invitation.created', 'member.removed', 'invitation.accepted']);
    assert.ok(events.every((e) => e.actor === `user:${h.people.admin.id}`));
    assert.equal(events[0]?.data.email, h.invited);
    const both = (
      await auditPage(h.people.owner.client, h.org.id, `actor=user:${h.people.admin.id}&action=member.*`)
    ).data;
    assert.deepEqual(actions(both), ['member.removed']);
    assert.deepEqual((await auditPage(h.people.owner.client, h.org.id, 'actor=user:nobody')).data, []);
  });

  it('filters by time: since inclusive, until exclusive', async () => {
    const h = await history();
    const c = h.people.admin.client;
    const iso = (d: Date) => encodeURIComponent(d.toISOString());
    assert.deepEqual(actions((await auditPage(c, h.org.id, `since=${iso(h.t2)}&until=${iso(h.t4)}`)).data), [
      'member.left',
      'member.removed',
    ]);
    assert.deepEqual(actions((await auditPage(c, h.org.id, `since=${iso(h.t3)}`)).data), [
      'invitation.created',
      'member.left',
    ]);
    const before = (await auditPage(c, h.org.id, `until=${iso(h.t1)}`)).data;
    assert.ok(before.length > 0 && before.every((e) => Date.parse(e.created_at) < h.t1.getTime()));
    assert.deepEqual((await auditPage(c, h.org.id, `since=${iso(h.t2)}&until=${iso(h.t2)}`)).data, []);
    // Other zones mean the same instant.
    const plusTwo = new Date(h.t3.getTime() + 2 * HOUR).toISOString().replace('Z', '+02:00');
    assert.deepEqual(actions((await auditPage(c, h.org.id, `since=${encodeURIComponent(plusTwo)}`)).data), [
      'invitation.created',
      'member.left',
    ]);
  });

  it('refuses since after until, malformed times, limits and cursors with 400', async () => {
    const h = await history();
    const c = h.people.owner.client;
    for (const q of [
      `since=${encodeURIComponent(h.t4.toISOString())}&until=${encodeURIComponent(h.t1.toISOString())}`,
      'since=yesterday',
      'until=2026-13-45T00:00:00Z',
      'since=2026-03-01',
      'limit=501',
      'limit=0',
      'cursor=not-a-cursor',
      'action=',
      `action=${'a'.repeat(101)}`,
      'unknown=1',
    ]) {
      assertProblem(await c.get(`/api/v1/audit?${q}`, h.org.id), 400, 'invalid_request', q);
    }
  });

  it('pages with a cursor: every event once, newest first, filters kept', async () => {
    const h = await history();
    const c = h.people.owner.client;
    const all = (await auditPage(c, h.org.id, 'limit=500')).data;
    assert.ok(all.length >= 10, `${all.length} events`);
    for (let i = 1; i < all.length; i++) {
      const [prev, cur] = [all[i - 1] as AuditEvent, all[i] as AuditEvent];
      assert.ok(Date.parse(prev.created_at) >= Date.parse(cur.created_at), 'newest first');
    }
    const pages = await allPages<AuditEvent>(c, '/api/v1/audit', h.org.id, 'limit=3');
    assert.ok(pages.slice(0, -1).every((p) => p.length === 3));
    assert.deepEqual(
      pages.flat().map((e) => e.id),
      all.map((e) => e.id),
    );
    const family = await allPages<AuditEvent>(c, '/api/v1/audit', h.org.id, 'action=member.*&limit=1');
    assert.deepEqual(
      family.map((p) => actions(p)),
      [['member.left'], ['member.removed'], ['member.role_changed']],
    );
    const first = await auditPage(c, h.org.id, 'limit=2');
    assert.equal(first.data.length, 2);
    assert.ok(first.next_cursor);
    // A cursor from one org reveals nothing of another.
    const other = await stranger(t);
    const foreign = await other.client.get(`/api/v1/audit?cursor=${first.next_cursor}`, other.org.id);
    assert.equal(foreign.statusCode, 200);
    assert.ok((foreign.json().data as AuditEvent[]).every((e) => e.org_id === other.org.id));
  });
});
