import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type TestServer, testServer, uniqueEmail } from '../helpers/harness.js';
import { assertProblem, type AuditEvent, inviteToken, join, type Page, stranger, team } from './helpers.js';

let t: TestServer;
before(async () => {
  t = await testServer();
});
after(() => t.close());

describe('which org a request acts in', () => {
  it('answers a nonexistent id, a nonexistent slug and a foreign org with byte-identical 403s', async () => {
    const me = await stranger(t);
    const other = await stranger(t, 'Other');
    const refs = {
      'nonexistent id': randomUUID(),
      'nonexistent slug': 'no-such-org-anywhere',
      'foreign org by id': other.org.id,
      'foreign org by slug': other.org.slug,
      'nonexistent id in upper case': randomUUID().toUpperCase(),
      'overlong value': 'x'.repeat(300),
    };
    for (const [method, url] of [
      ['GET', '/api/v1/org'],
      ['GET', '/api/v1/org/members'],
      ['DELETE', '/api/v1/org'],
      ['GET', '/api/v1/audit'],
    ] as const) {
      const answers = new Map<string, { body: string; type: unknown }>();
      for (const [what, ref] of Object.entries(refs)) {
        const res = await me.client.req({ method, url, org: ref });
        assertProblem(res, 403, 'org_forbidden', `${method} ${url} naming a ${what}`);
        answers.set(what, { body: res.body, type: res.headers['content-type'] });
      }
      const [first, ...rest] = [...answers.values()];
      for (const a of rest)
        assert.deepEqual(a, first, `${method} ${url}: the 403s must not tell the cases apart`);
      // Nothing in the body names the org that was probed.
      for (const ref of Object.values(refs))
        assert.ok(!first?.body.includes(ref), `${method} ${url} echoes ${ref}`);
    }
    // The foreign org is untouched.
    assert.equal((await other.client.get('/api/v1/org', other.org.id)).statusCode, 200);
  });

  it('accepts the org by id (any case) or by slug, and the header beats the default org', async () => {
    const me = await stranger(t, 'Two Orgs');
    const second = await me.client.post('/api/v1/orgs', {
      name: 'Second Org',
      slug: `second-${Date.now().toString(36)}`,
    });
    assert.equal(second.statusCode, 201, second.body);
    const { id, slug } = second.json();
    for (const ref of [id, id.toUpperCase(), slug]) {
      const res = await me.client.get('/api/v1/org', ref);
      assert.equal(res.statusCode, 200, `${ref}: ${res.body}`);
      assert.equal(res.json().id, id, ref);
      assert.equal(res.json().slug, slug, ref);
    }
    // Without the header the session's own (personal) org applies.
    const dflt = await me.client.get('/api/v1/org');
    assert.equal(dflt.statusCode, 200);
    assert.equal(dflt.json().id, me.org.id);
  });

  it('answers org_required when the session default org was deleted and no org is named', async () => {
    const me = await stranger(t);
    assert.equal((await me.client.get('/api/v1/org')).json().id, me.org.id, 'the default org applies first');
    assert.equal((await me.client.delete('/api/v1/org', me.org.id)).statusCode, 204);
    for (const [method, url] of [
      ['GET', '/api/v1/org'],
      ['GET', '/api/v1/org/members'],
      ['GET', '/api/v1/audit'],
      ['PATCH', '/api/v1/org'],
    ] as const) {
      const res = await me.client.req({
        method,
        url,
        ...(method === 'PATCH' ? { body: { name: 'x' } } : {}),
      });
      assertProblem(res, 400, 'org_required', `${method} ${url}`);
    }
    // Still signed in: routes that need no org work, and the deleted org is nowhere.
    const whoami = await me.client.get('/api/v1/me');
    assert.equal(whoami.statusCode, 200);
    assert.equal(whoami.json().org, null);
    assert.deepEqual(whoami.json().orgs, []);
    assertProblem(
      await me.client.get('/api/v1/org', me.org.id),
      403,
      'org_forbidden',
      'naming the deleted org',
    );
  });

  it('answers org_required for a session whose person left their default org', async () => {
    const tm = await team(t);
    // A session defaults to its person's personal org: the admin hands theirs to an heir and leaves it.
    const admin = tm.people.admin;
    const mine = (await admin.client.get('/api/v1/me')).json().org as { id: string };
    const heir = await join(t, admin.client, mine.id, 'member', 'Heir');
    const moved = await admin.client.post('/api/v1/org/transfer-ownership', { user_id: heir.id }, mine.id);
    assert.equal(moved.statusCode, 200, moved.body);
    assert.equal((await admin.client.delete(`/api/v1/org/members/${admin.id}`, mine.id)).statusCode, 204);
    assertProblem(
      await admin.client.get('/api/v1/org'),
      400,
      'org_required',
      'after leaving the default org',
    );
    assert.equal((await admin.client.get('/api/v1/org', tm.org.id)).statusCode, 200, 'other orgs still work');
  });
});

describe('isolation between orgs', () => {
  /** One person owns two orgs, each with its own members, invitations and history. */
  async function twoOrgs() {
    const boss = await stranger(t, 'Boss');
    const a = boss.org;
    const created = await boss.client.post('/api/v1/orgs', { name: 'Org B' });
    assert.equal(created.statusCode, 201, created.body);
    const b = created.json() as { id: string; slug: string };
    const inA = await join(t, boss.client, a.id, 'admin', 'In A');
    const inB = await join(t, boss.client, b.id, 'member', 'In B');
    const pendingA = uniqueEmail('pending-a');
    const pendingB = uniqueEmail('pending-b');
    const invA = await inviteToken(t, boss.client, a.id, pendingA, 'member');
    const invB = await inviteToken(t, boss.client, b.id, pendingB, 'billing');
    return { boss, a, b, inA, inB, pendingA, pendingB, invA, invB };
  }

  it('lists only the named org members', async () => {
    const w = await twoOrgs();
    const ids = async (org: string) =>
      ((await w.boss.client.get('/api/v1/org/members', org)).json() as Page<{ user_id: string }>).data.map(
        (m) => m.user_id,
      );
    assert.deepEqual((await ids(w.a.id)).sort(), [w.boss.id, w.inA.id].sort());
    assert.deepEqual((await ids(w.b.id)).sort(), [w.boss.id, w.inB.id].sort());
    // And a member of B alone cannot list A.
    assertProblem(await w.inB.client.get('/api/v1/org/members', w.a.id), 403, 'org_forbidden');
  });

  it('lists only the named org invitations, and cannot revoke or resend another org invitation', async () => {
    const w = await twoOrgs();
    const emails = async (org: string) =>
      ((await w.boss.client.get('/api/v1/org/invitations', org)).json() as Page<{ email: string }>).data.map(
        (i) => i.email,
      );
    assert.deepEqual(await emails(w.a.id), [w.pendingA]);
    assert.deepEqual(await emails(w.b.id), [w.pendingB]);
    // B's invitation named while acting in A does not exist.
    assertProblem(
      await w.boss.client.delete(`/api/v1/org/invitations/${w.invB.id}`, w.a.id),
      404,
      'not_found',
    );
    assertProblem(
      await w.boss.client.post(`/api/v1/org/invitations/${w.invB.id}/resend`, undefined, w.a.id),
      404,
      'not_found',
    );
    assert.deepEqual(await emails(w.b.id), [w.pendingB], 'still pending in B');
    // A's admin (who is in A only) cannot reach B's invitation through A either.
    assertProblem(
      await w.inA.client.delete(`/api/v1/org/invitations/${w.invB.id}`, w.a.id),
      404,
      'not_found',
    );
  });

  it('cannot change or remove a member of another org through this one', async () => {
    const w = await twoOrgs();
    assertProblem(
      await w.boss.client.patch(`/api/v1/org/members/${w.inB.id}`, { role: 'admin' }, w.a.id),
      404,
      'not_found',
    );
    assertProblem(await w.boss.client.delete(`/api/v1/org/members/${w.inB.id}`, w.a.id), 404, 'not_found');
    assertProblem(
      await w.boss.client.post('/api/v1/org/transfer-ownership', { user_id: w.inB.id }, w.a.id),
      404,
      'not_found',
    );
    const inB = (await w.boss.client.get('/api/v1/org/members', w.b.id)).json() as Page<{
      user_id: string;
      role: string;
    }>;
    assert.equal(inB.data.find((m) => m.user_id === w.inB.id)?.role, 'member');
  });

  it('shows only the named org audit events', async () => {
    const w = await twoOrgs();
    const eventsOf = async (org: string) =>
      ((await w.boss.client.get('/api/v1/audit?limit=500', org)).json() as Page<AuditEvent>).data;
    const inA = await eventsOf(w.a.id);
    const inB = await eventsOf(w.b.id);
    assert.ok(inA.length > 0 && inB.length > 0);
    assert.ok(
      inA.every((e) => e.org_id === w.a.id),
      'A shows only A',
    );
    assert.ok(
      inB.every((e) => e.org_id === w.b.id),
      'B shows only B',
    );
    assert.ok(
      inB.some((e) => e.action === 'org.created'),
      'B has its own history',
    );
    const emailsIn = (events: AuditEvent[]) => events.map((e) => e.data.email).filter(Boolean);
    assert.deepEqual(emailsIn(inA).sort(), [w.inA.email, w.pendingA].sort());
    assert.deepEqual(emailsIn(inB).sort(), [w.inB.email, w.pendingB].sort());
  });
});
