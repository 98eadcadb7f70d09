import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Client, type TestServer, testServer } from '../helpers/harness.js';
import { assertProblem } from '../orgs/helpers.js';
import { bearer, orgWithRoles } from '../tokens/helpers.js';
import { startReceiver, type Receiver, WEBHOOK_ENV } from './helpers.js';

const ADMIN_TOKEN = 'webhooks-break-glass-0123456789-abcdefghij';
type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

describe('webhook endpoints API: who may manage them', () => {
  let t: TestServer;
  let receiver: Receiver;
  let team: Awaited<ReturnType<typeof orgWithRoles>>;
  let endpointId: string;
  let deliveryId: string;
  let operator: Client;

  /** Every org route, against the team's endpoint and one of its deliveries. */
  const orgRoutes = (): { method: Method; url: string; body?: unknown }[] => {
    const base = '/api/v1/org/webhooks';
    return [
      { method: 'GET', url: base },
      { method: 'POST', url: base, body: { url: receiver.url, events: ['*'] } },
      { method: 'GET', url: `${base}/${endpointId}` },
      { method: 'PATCH', url: `${base}/${endpointId}`, body: { events: ['member.*'] } },
      { method: 'POST', url: `${base}/${endpointId}/rotate-secret` },
      { method: 'DELETE', url: `${base}/${endpointId}` },
      { method: 'GET', url: `${base}/${endpointId}/deliveries` },
      { method: 'POST', url: `${base}/${endpointId}/deliveries/${deliveryId}/resend` },
    ];
  };
  const adminRoutes = () => orgRoutes().map((r) => ({ ...r, url: r.url.replace('/org/', '/admin/') }));

  /** What a refused request must leave unchanged (a delivery's progress is the worker's, not the request's). */
  const state = async () => ({
    endpoints: await t.deps.db.selectFrom('webhook_endpoints').selectAll().orderBy('id').execute(),
    deliveries: await t.deps.db
      .selectFrom('webhook_deliveries')
      .select(['id', 'endpoint_id', 'event_id'])
      .orderBy('id')
      .execute(),
  });

  before(async () => {
    receiver = await startReceiver();
    t = await testServer({ env: { ...WEBHOOK_ENV, ADMIN_TOKEN } });
    team = await orgWithRoles(t);
    const created = await team.owner.post(
      '/api/v1/org/webhooks',
      { url: receiver.url, events: ['*'] },
      team.org.id,
    );
    assert.equal(created.statusCode, 201, created.body);
    endpointId = created.json().id;
    // An event, so the endpoint has a delivery to resend.
    await t.deps.db
      .insertInto('audit_events')
      .values({
        id: crypto.randomUUID(),
        org_id: team.org.id,
        actor: 'system',
        action: 'org.updated',
        target: null,
        ip: null,
        user_agent: null,
        created_at: new Date(),
        data: '{}',
      })
      .execute();
    const d = await t.deps.db
      .selectFrom('webhook_deliveries')
      .select('id')
      .where('endpoint_id', '=', endpointId)
      .executeTakeFirstOrThrow();
    deliveryId = d.id;
    operator = t.client();
    const { user } = await operator.signup({ name: 'Operator' });
    await t.deps.db.updateTable('users').set({ instance_admin: true }).where('id', '=', user.id).execute();
  });
  after(async () => {
    await t.close();
    await receiver.close();
  });

  it('refuses members, billing, other orgs, anonymous callers and tokens without both scopes; changes nothing', async () => {
    const stranger = t.client();
    const { org: strangerOrg } = await stranger.signup({ name: 'Stranger' });
    const pat = async (c: Client, scopes: string[]) => {
      const res = await c.post('/api/v1/tokens', { scopes });
      assert.equal(res.statusCode, 201, res.body);
      return res.json().token as string;
    };
    const orgKey = async (scopes: string[]) => {
      const res = await team.owner.post('/api/v1/org/tokens', { name: 'ci', scopes }, team.org.id);
      assert.equal(res.statusCode, 201, res.body);
      return res.json().token as string;
    };
    const tokens: [string, string][] = [
      ['owner PAT with org:read', await pat(team.owner, ['org:read'])],
      ['owner PAT with org:update only', await pat(team.owner, ['org:update'])],
      ['owner PAT with audit:read only', await pat(team.owner, ['audit:read'])],
      ['member PAT with every scope it may hold', await pat(team.member, ['org:read', 'members:read'])],
      ['org key with org:read', await orgKey(['org:read'])],
      ['org key with audit:read', await orgKey(['audit:read'])],
    ];
    const before0 = await state();
    for (const r of orgRoutes()) {
      const what = `${r.method} ${r.url}`;
      for (const [who, c] of [
        ['member', team.member],
        ['billing', team.billing],
      ] as const)
        assertProblem(await c.req({ ...r, org: team.org.id }), 403, 'forbidden', `${what} as ${who}`);
      // Another org's owner naming this org, and in their own org reaching for this org's endpoint.
      assertProblem(
        await stranger.req({ ...r, org: team.org.id }),
        403,
        'org_forbidden',
        `${what} as stranger`,
      );
      if (r.url.includes(endpointId))
        assertProblem(
          await stranger.req({ ...r, org: strangerOrg.id }),
          404,
          'not_found',
          `${what} cross-org`,
        );
      for (const [who, token] of tokens) {
        const res = await bearer(t, token, { ...r, org: team.org.id });
        assert.equal(res.statusCode, 403, `${what} as ${who}: ${res.body}`);
      }
      const anon = await t.app.inject({ method: r.method, url: r.url, headers: { 'x-org-id': team.org.id } });
      assert.equal(anon.statusCode, 401, `${what} anonymous`);
    }
    assert.deepEqual(await state(), before0);
  });

  it('refuses the instance routes to anyone but an instance admin; changes nothing', async () => {
    const ownerPat = (await team.owner.post('/api/v1/tokens', {})).json().token as string;
    const operatorPat = (await operator.post('/api/v1/tokens', { scopes: ['org:read'] })).json()
      .token as string;
    const before0 = await state();
    for (const r of adminRoutes()) {
      const what = `${r.method} ${r.url}`;
      assertProblem(await team.owner.req(r), 403, 'forbidden', `${what} as an org owner`);
      for (const token of [ownerPat, operatorPat]) {
        const res = await bearer(t, token, r);
        assert.equal(res.statusCode, 403, `${what} with a personal token: ${res.body}`);
      }
      assert.equal((await t.app.inject({ method: r.method, url: r.url })).statusCode, 401, what);
    }
    assert.deepEqual(await state(), before0);
  });

  it('owners and admins manage endpoints; the secret is shown once, sealed at rest, never logged', async () => {
    const admin = team.admin;
    const res = await admin.post(
      '/api/v1/org/webhooks',
      { url: receiver.url, events: ['member.*', 'token.created'], description: 'CI' },
      team.org.id,
    );
    assert.equal(res.statusCode, 201, res.body);
    const e = res.json();
    assert.match(e.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.deepEqual(e.events, ['member.*', 'token.created']);
    const row = await t.deps.db
      .selectFrom('webhook_endpoints')
      .select('secret')
      .where('id', '=', e.id)
      .executeTakeFirstOrThrow();
    assert.match(row.secret, /^lk1\./);
    assert.ok(!row.secret.includes(e.secret.slice(6)));

    const list = await admin.get('/api/v1/org/webhooks', team.org.id);
    assert.equal(list.statusCode, 200);
    assert.ok(!list.body.includes(e.secret));
    assert.ok(!list.body.includes('lk1.'));
    const one = await admin.get(`/api/v1/org/webhooks/${e.id}`, team.org.id);
    assert.equal(one.json().description, 'CI');
    assert.equal(one.json().secret, undefined);

    const patched = await admin.patch(`/api/v1/org/webhooks/${e.id}`, { enabled: false }, team.org.id);
    assert.equal(patched.statusCode, 200, patched.body);
    assert.equal(patched.json().enabled, false);
    const resend = await admin.post(
      `/api/v1/org/webhooks/${e.id}/deliveries/${deliveryId}/resend`,
      undefined,
      team.org.id,
    );
    assertProblem(resend, 409, 'conflict', 'resend to a disabled endpoint');

    const rotated = await admin.post(`/api/v1/org/webhooks/${e.id}/rotate-secret`, undefined, team.org.id);
    assert.equal(rotated.statusCode, 200, rotated.body);
    assert.notEqual(rotated.json().secret, e.secret);

    // A token that holds both scopes manages endpoints too.
    const key = await team.owner.post(
      '/api/v1/org/tokens',
      { name: 'hooks', scopes: ['org:update', 'audit:read'] },
      team.org.id,
    );
    const viaKey = await bearer(t, key.json().token, { url: '/api/v1/org/webhooks', org: team.org.id });
    assert.equal(viaKey.statusCode, 200, viaKey.body);

    const del = await admin.delete(`/api/v1/org/webhooks/${e.id}`, team.org.id);
    assert.equal(del.statusCode, 204);
    assertProblem(await admin.get(`/api/v1/org/webhooks/${e.id}`, team.org.id), 404, 'not_found');

    const actions = (
      await t.deps.db
        .selectFrom('audit_events')
        .select('action')
        .where('target', '=', `webhook:${e.id}`)
        .orderBy('id')
        .execute()
    ).map((r) => r.action);
    assert.deepEqual(actions, [
      'webhook.created',
      'webhook.updated',
      'webhook.secret_rotated',
      'webhook.deleted',
    ]);
    const logs = t.logs.join('\n');
    for (const s of [e.secret, rotated.json().secret])
      assert.ok(!logs.includes(s), 'a signing secret was logged');
  });

  it('instance admins manage instance endpoints, with a session or ADMIN_TOKEN', async () => {
    const res = await operator.post('/api/v1/admin/webhooks', { url: receiver.url, events: ['*'] });
    assert.equal(res.statusCode, 201, res.body);
    const viaToken = await bearer(t, ADMIN_TOKEN, { url: '/api/v1/admin/webhooks' });
    assert.equal(viaToken.statusCode, 200, viaToken.body);
    assert.deepEqual(
      viaToken.json().data.map((e: { id: string }) => e.id),
      [res.json().id],
    );
    // Instance endpoints are not an org's, and an org's are not the instance's.
    const orgList = await team.owner.get('/api/v1/org/webhooks', team.org.id);
    assert.ok(!orgList.json().data.some((e: { id: string }) => e.id === res.json().id));
    assertProblem(
      await team.owner.get(`/api/v1/org/webhooks/${res.json().id}`, team.org.id),
      404,
      'not_found',
    );
    assertProblem(await operator.get(`/api/v1/admin/webhooks/${endpointId}`), 404, 'not_found');
  });

  it('refuses bad input with a 400 and changes nothing', async () => {
    const bad: unknown[] = [
      { url: 'http://example.com/hook', events: ['*'] },
      { url: 'https://10.0.0.1/hook', events: ['*'] },
      { url: 'https://user:pw@example.com/hook', events: ['*'] },
      { url: 'not a url', events: ['*'] },
      { url: 'https://example.com/hook', events: ['member.adde'] },
      { url: 'https://example.com/hook', events: ['nothing.*'] },
      { url: 'https://example.com/hook', events: [] },
      { url: 'https://example.com/hook' },
      { url: 'https://example.com/hook', events: ['*'], secret: 'mine' },
      { url: 'https://example.com/hook', events: ['*'], description: 'x'.repeat(201) },
    ];
    const before0 = await state();
    for (const body of bad) {
      const res = await team.owner.post('/api/v1/org/webhooks', body, team.org.id);
      assertProblem(res, 400, 'invalid_request', JSON.stringify(body));
    }
    for (const body of [{}, { url: 'http://example.com/' }, { events: ['*', 'bogus'] }]) {
      const res = await team.owner.patch(`/api/v1/org/webhooks/${endpointId}`, body, team.org.id);
      assertProblem(res, 400, 'invalid_request', JSON.stringify(body));
    }
    assertProblem(
      await team.owner.get('/api/v1/org/webhooks/not-a-uuid', team.org.id),
      400,
      'invalid_request',
    );
    assertProblem(
      await team.owner.get(`/api/v1/org/webhooks/${endpointId}/deliveries?cursor=zzz`, team.org.id),
      400,
      'invalid_request',
    );
    assert.deepEqual(await state(), before0);
  });
});
