import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Client, type TestServer, testServer } from '../helpers/harness.js';
import { assertProblem, auditPage, join, stranger } from '../orgs/helpers.js';
import {
  asAgent,
  codeFor,
  FREE_SCOPES,
  type Signed,
  signInByMagicLink,
  signupAgent,
  status,
  UNCLAIMED_SCOPES,
  verify,
} from './helpers.js';

const ADMIN_TOKEN = 'break-glass-admin-token-0123456789abcdef';

describe('approve, deny and revoke through the API', () => {
  let t: TestServer;
  before(async () => {
    t = await testServer({ env: { ADMIN_TOKEN } });
  });
  after(() => t.close());

  /** A claimed agent whose org has an owner (the human) plus an admin, a member and a billing person. */
  async function claimedTeam() {
    const a = await signupAgent(t);
    assert.equal((await verify(t, a.api_key, await codeFor(t, a.human))).statusCode, 200);
    const owner = await signInByMagicLink(t, a.human);
    const people: Record<'admin' | 'member' | 'billing', Client> = {} as never;
    for (const role of ['admin', 'member', 'billing'] as const)
      people[role] = (await join(t, owner, a.org_id, role)).client;
    return { a, owner, ...people };
  }

  it('the overseer, signed in by magic link, approves without the code; the key gets the free plan', async () => {
    const a = await signupAgent(t);
    // The magic link makes their account (the agent's org is not theirs yet).
    const human = await signInByMagicLink(t, a.human);
    const res = await human.post(`/api/v1/org/agents/${a.agent_id}/approve`);
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.status, 'claimed');
    assert.equal(body.human_email, a.human);
    assert.deepEqual(body.restrictions.allowed_scopes, FREE_SCOPES);
    assert.equal((await status(t, a.api_key)).json().claim_status, 'claimed');
    const me = (await human.get('/api/v1/me')).json();
    assert.equal(me.orgs.find((o: { id: string }) => o.id === a.org_id)?.role, 'owner');
    // The code is spent with the approval.
    assertProblem(await verify(t, a.api_key, await codeFor(t, a.human)), 409, 'conflict');
    assertProblem(await human.post(`/api/v1/org/agents/${a.agent_id}/approve`), 409, 'conflict');
    const trail = await auditPage(human, a.org_id, 'action=agent.claimed');
    assert.equal(trail.data[0]!.actor, `user:${me.user.id}`);
    assert.equal(trail.data[0]!.target, `agent:${a.agent_id}`);
    assert.equal(trail.data[0]!.data.via, 'approval');
  });

  it('approving works after the agent locked itself out of verification', async () => {
    const a = await signupAgent(t);
    for (let i = 0; i < 5; i++) await verify(t, a.api_key, '000000');
    const human = await signInByMagicLink(t, a.human);
    assert.equal((await human.post(`/api/v1/org/agents/${a.agent_id}/approve`)).statusCode, 200);
  });

  it('deny revokes the key at once: 401 everywhere', async () => {
    const a = await signupAgent(t);
    assert.equal((await status(t, a.api_key)).statusCode, 200, 'cached as live');
    const human = await signInByMagicLink(t, a.human);
    const res = await human.post(`/api/v1/org/agents/${a.agent_id}/deny`);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().status, 'denied');
    assertProblem(await status(t, a.api_key), 401, 'unauthorized');
    assertProblem(await asAgent(t, a.api_key, { url: '/api/v1/me' }), 401, 'unauthorized');
    const again = await human.post(`/api/v1/org/agents/${a.agent_id}/deny`);
    assertProblem(again, 409, 'conflict');
    assert.equal(again.json().status, 409, "the problem's status is the HTTP status");
    assert.equal(again.json().agent_status, 'denied');
    assertProblem(await human.post(`/api/v1/org/agents/${a.agent_id}/approve`), 409, 'conflict');
    const rows = await t.deps.db
      .selectFrom('audit_events')
      .select(['action', 'actor'])
      .where('org_id', '=', a.org_id)
      .where('action', 'in', ['agent.denied', 'token.revoked'])
      .execute();
    assert.deepEqual(rows.map((r) => r.action).sort(), ['agent.denied', 'token.revoked']);
  });

  it('a person who only signed up with the address (unproven) may not decide; a stranger finds nothing', async () => {
    const c = t.client();
    const { user } = await c.signup({ verify: false });
    const a = await signupAgent(t, { human_email: user.email });
    assertProblem(await c.post(`/api/v1/org/agents/${a.agent_id}/approve`), 403, 'forbidden');
    const other = await stranger(t);
    for (const res of [
      await other.client.post(`/api/v1/org/agents/${a.agent_id}/approve`),
      await other.client.post(`/api/v1/org/agents/${a.agent_id}/deny`),
      await other.client.delete(`/api/v1/org/agents/${a.agent_id}`),
      await other.client.post(`/api/v1/org/agents/${crypto.randomUUID()}/approve`),
    ])
      assertProblem(res, 404, 'not_found');
    // Naming an org they are not in: org_forbidden before anything is looked at.
    assertProblem(
      await other.client.post(`/api/v1/org/agents/${a.agent_id}/deny`, undefined, a.org_id),
      403,
      'org_forbidden',
    );
    assert.equal((await status(t, a.api_key)).json().claim_status, 'unclaimed');
  });

  it('an agent cannot approve itself or another agent', async () => {
    const a = await signupAgent(t);
    const b = await signupAgent(t);
    const self = await asAgent(t, a.api_key, {
      method: 'POST',
      url: `/api/v1/org/agents/${a.agent_id}/approve`,
    });
    assertProblem(self, 403, 'forbidden');
    const other = await asAgent(t, a.api_key, {
      method: 'POST',
      url: `/api/v1/org/agents/${b.agent_id}/approve`,
    });
    // Deciding needs tokens:manage, which no agent key holds: refused before any lookup, so the
    // answer is the same for every agent id.
    assertProblem(other, 403, 'forbidden');
    assert.equal((await status(t, a.api_key)).json().claim_status, 'unclaimed');
  });

  it('GET /api/v1/org/agents is for admins and owners; members and billing get 403', async () => {
    const { a, owner, admin, member, billing } = await claimedTeam();
    for (const c of [owner, admin]) {
      const res = await c.get('/api/v1/org/agents', a.org_id);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(
        res.json().data.map((x: Signed & { id: string }) => x.id),
        [a.agent_id],
      );
    }
    for (const c of [member, billing])
      assertProblem(await c.get('/api/v1/org/agents', a.org_id), 403, 'forbidden');
    assertProblem(await (await stranger(t)).client.get('/api/v1/org/agents', a.org_id), 403, 'org_forbidden');
  });

  it('DELETE revokes a claimed agent: admins may, members may not; the key is dead at once', async () => {
    const { a, admin, member } = await claimedTeam();
    assert.equal((await status(t, a.api_key)).statusCode, 200);
    assertProblem(await member.delete(`/api/v1/org/agents/${a.agent_id}`, a.org_id), 403, 'forbidden');
    assertProblem(await member.delete(`/api/v1/org/agents/${a.agent_id}`), 403, 'forbidden');
    assertProblem(
      await admin.post(`/api/v1/org/agents/${a.agent_id}/deny`, undefined, a.org_id),
      409,
      'conflict',
    );
    const res = await admin.delete(`/api/v1/org/agents/${a.agent_id}`, a.org_id);
    assert.equal(res.statusCode, 204, res.body);
    assertProblem(await status(t, a.api_key), 401, 'unauthorized');
    assert.deepEqual((await admin.get('/api/v1/org/agents', a.org_id)).json().data, []);
    assertProblem(await admin.delete(`/api/v1/org/agents/${a.agent_id}`, a.org_id), 409, 'conflict');
    const trail = await auditPage(admin, a.org_id, 'action=agent.revoked');
    assert.equal(trail.data.length, 1);
  });

  it('the break-glass ADMIN_TOKEN may approve a pending agent in its org', async () => {
    const a = await signupAgent(t);
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/org/agents/${a.agent_id}/approve`,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'x-org-id': a.org_id },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual((await status(t, a.api_key)).json().restrictions.allowed_scopes, FREE_SCOPES);
    assert.notDeepEqual(FREE_SCOPES, UNCLAIMED_SCOPES);
  });
});
