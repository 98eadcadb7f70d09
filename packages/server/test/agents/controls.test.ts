import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sweepAgents } from '../../src/agents/controls.js';
import { DAY, manualClock } from '../../src/lib/clock.js';
import { hashToken } from '../../src/tokens/format.js';
import { type Client, type TestServer, testServer, uniqueEmail } from '../helpers/harness.js';
import { introspect } from '../oauth/helpers.js';
import { assertProblem } from '../orgs/helpers.js';
import { bearer } from '../tokens/helpers.js';
import { asAgent, codeFor, freshIp, signupAgent, signupRequest, status, verify } from './helpers.js';

const ADMIN_TOKEN = 'controls-break-glass-0123456789-abcdefghij';
const TOOLS = ['tools', 'tools-resource-secret-0123456789abcdef'] as [string, string];
const TOML = `
[[resources]]
id = "${TOOLS[0]}"
url = "https://tools.example.com/mcp"
name = "Tools"
secret = "${TOOLS[1]}"
accept_api_tokens = true
`;

/** The operator routes, each with a body an instance admin's call would accept. */
const ADMIN_ROUTES: { method: 'GET' | 'POST' | 'DELETE'; url: string; body?: unknown }[] = [
  { method: 'GET', url: '/api/v1/admin/agent-blocks' },
  { method: 'POST', url: '/api/v1/admin/agent-blocks', body: { kind: 'ip', value: '198.51.100.0/24' } },
  { method: 'DELETE', url: `/api/v1/admin/agent-blocks/${crypto.randomUUID()}` },
  { method: 'GET', url: '/api/v1/admin/agent-blocked-attempts' },
  { method: 'GET', url: '/api/v1/admin/agent-suspensions' },
  { method: 'POST', url: `/api/v1/admin/agent-orgs/${crypto.randomUUID()}/suspend`, body: {} },
  { method: 'DELETE', url: `/api/v1/admin/agent-orgs/${crypto.randomUUID()}/suspend` },
];

describe('operator controls over agent signup', () => {
  const clock = manualClock(new Date('2026-12-05T10:00:00Z'));
  let t: TestServer;
  let operator: Client;
  before(async () => {
    t = await testServer({ clock, toml: TOML, env: { ADMIN_TOKEN } });
    operator = t.client();
    const { user } = await operator.signup({ name: 'Operator' });
    await t.deps.db.updateTable('users').set({ instance_admin: true }).where('id', '=', user.id).execute();
  });
  after(() => t.close());

  const block = async (kind: string, value: string, reason?: string) => {
    const res = await operator.post('/api/v1/admin/agent-blocks', {
      kind,
      value,
      ...(reason ? { reason } : {}),
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json() as { id: string; kind: string; value: string };
  };

  it('refuses every operator route to anyone but an instance admin, changing nothing', async () => {
    const member = t.client();
    const { org } = await member.signup();
    const pat = await member.post('/api/v1/tokens', { scopes: ['org:read'] });
    const orgKey = await member.post('/api/v1/org/tokens', { name: 'ci' }, org.id);
    assert.equal(orgKey.statusCode, 201, orgKey.body);
    const agent = await signupAgent(t);
    const before0 = await t.deps.db.selectFrom('agent_blocks').select('id').execute();
    for (const r of ADMIN_ROUTES) {
      const what = `${r.method} ${r.url}`;
      // A person who is no instance admin, with their session.
      assertProblem(await member.req({ method: r.method, url: r.url, body: r.body }), 403, 'forbidden', what);
      // Tokens never carry operator rights, even the admin's own.
      for (const token of [pat.json().token, orgKey.json().token, agent.api_key]) {
        const res = await bearer(t, token, { method: r.method, url: r.url, body: r.body, org: org.id });
        assert.ok(res.statusCode === 403 || res.statusCode === 401, `${what}: ${res.statusCode}`);
      }
      // No credential at all.
      const anon = await t.app.inject({
        method: r.method,
        url: r.url,
        ...(r.body ? { payload: r.body as object } : {}),
        headers: { origin: 'http://localhost:8484' },
      });
      assert.equal(anon.statusCode, 401, what);
    }
    assert.deepEqual(await t.deps.db.selectFrom('agent_blocks').select('id').execute(), before0);
    // The break-glass ADMIN_TOKEN is an operator.
    const list = await t.app.inject({
      method: 'GET',
      url: '/api/v1/admin/agent-blocks',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(list.statusCode, 200, list.body);
  });

  it('validates blocks: bad values are 400, a duplicate 409, an unknown org 404', async () => {
    for (const [kind, value] of [
      ['ip', 'not-an-ip'],
      ['ip', '10.0.0.0/4'],
      ['ip', '10.0.0.0/33'],
      ['ip', '10.0.0.0/8/1'],
      ['email_domain', 'no spaces.com'],
      ['email_domain', 'localhost'],
      ['org', 'not-a-uuid'],
    ])
      assertProblem(
        await operator.post('/api/v1/admin/agent-blocks', { kind, value }),
        400,
        'invalid_request',
        `${kind} ${value}`,
      );
    assertProblem(
      await operator.post('/api/v1/admin/agent-blocks', { kind: 'country', value: 'x' }),
      400,
      'invalid_request',
    );
    assertProblem(
      await operator.post('/api/v1/admin/agent-blocks', { kind: 'org', value: crypto.randomUUID() }),
      404,
      'not_found',
    );
    // A range is stored as the range it names.
    const b = await block('ip', '192.0.2.77/24');
    assert.equal(b.value, '192.0.2.0/24');
    assertProblem(
      await operator.post('/api/v1/admin/agent-blocks', { kind: 'ip', value: '192.0.2.0/24' }),
      409,
      'conflict',
    );
    assert.equal((await operator.delete(`/api/v1/admin/agent-blocks/${b.id}`)).statusCode, 204);
    assertProblem(await operator.delete(`/api/v1/admin/agent-blocks/${b.id}`), 404, 'not_found');
  });

  it('a blocked signup is 403 agent_signup_blocked with its reason, creates nothing, and is listed', async () => {
    const ipBlock = await block('ip', '203.0.113.0/24', 'mass signups');
    await block('email_domain', 'spam.example');
    const owner = t.client();
    const { user, org } = await owner.signup({ email: uniqueEmail('blocked-owner') });
    await block('org', org.id);

    const agents0 = await t.deps.db.selectFrom('agents').select('id').execute();
    const human = uniqueEmail('h');
    const cases: [string, unknown, string, string][] = [
      ['from a blocked range', { human_email: human, display_name: 'Bot' }, '203.0.113.9', 'ip_blocked'],
      [
        'naming an overseer at a blocked domain',
        { human_email: 'eve@mail.spam.example', display_name: 'Bot' },
        freshIp(),
        'email_domain_blocked',
      ],
      [
        'naming an owner of a blocked org',
        { human_email: user.email, display_name: 'Bot' },
        freshIp(),
        'org_blocked',
      ],
    ];
    for (const [what, body, ip, reason] of cases) {
      const res = await signupRequest(t, body, ip);
      assertProblem(res, 403, 'agent_signup_blocked', what);
      assert.equal(res.json().reason, reason, what);
    }
    assert.deepEqual(await t.deps.db.selectFrom('agents').select('id').execute(), agents0, 'no agent made');

    const seen = await operator.get('/api/v1/admin/agent-blocked-attempts');
    assert.equal(seen.statusCode, 200, seen.body);
    const attempts = seen.json().data as {
      reason: string;
      ip: string;
      email_domain: string;
      created_at: string;
      block_id: string;
    }[];
    assert.deepEqual(
      attempts
        .slice(0, 3)
        .map((a) => a.reason)
        .sort(),
      ['email_domain_blocked', 'ip_blocked', 'org_blocked'],
    );
    const byIp = attempts.find((a) => a.reason === 'ip_blocked')!;
    assert.equal(byIp.ip, '203.0.113.9');
    assert.equal(byIp.block_id, ipBlock.id);
    // The overseer's domain is recorded, never the address; the time is the server's clock.
    assert.equal(byIp.email_domain, human.split('@')[1]);
    assert.ok(!seen.body.includes(human));
    assert.equal(byIp.created_at, clock.now().toISOString());

    // Lifting the block lets the same signup through.
    assert.equal((await operator.delete(`/api/v1/admin/agent-blocks/${ipBlock.id}`)).statusCode, 204);
    assert.equal(
      (await signupRequest(t, { human_email: human, display_name: 'Bot' }, '203.0.113.9')).statusCode,
      201,
    );
  });

  it('an agent of a blocked org cannot be claimed with its code', async () => {
    const a = await signupAgent(t);
    await block('org', a.org_id);
    const res = await verify(t, a.api_key, await codeFor(t, a.human));
    assertProblem(res, 403, 'agent_signup_blocked');
    assert.equal(res.json().reason, 'org_blocked');
    assert.equal((await status(t, a.api_key)).json().claim_status, 'unclaimed');
  });

  it("suspending an agent's org refuses its keys at once, everywhere; audited", async () => {
    const a = await signupAgent(t);
    assert.equal((await verify(t, a.api_key, await codeFor(t, a.human))).statusCode, 200);
    assert.equal((await status(t, a.api_key)).statusCode, 200);
    assert.equal((await introspect(t, a.api_key, TOOLS)).json().active, true);
    // An org key its new owner minted there.
    const owner = await (await import('./helpers.js')).signInByMagicLink(t, a.human);
    const key = await owner.post('/api/v1/org/tokens', { name: 'deploys' }, a.org_id);
    assert.equal(key.statusCode, 201, key.body);
    assert.equal((await bearer(t, key.json().token, { url: '/api/v1/org' })).statusCode, 200);

    // Only orgs an agent signed up can be suspended.
    const plain = t.client();
    const { org: plainOrg } = await plain.signup();
    assertProblem(
      await operator.post(`/api/v1/admin/agent-orgs/${plainOrg.id}/suspend`, {}),
      404,
      'not_found',
    );

    const res = await operator.post(`/api/v1/admin/agent-orgs/${a.org_id}/suspend`, {
      reason: 'abuse report',
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().reason, 'abuse report');
    assertProblem(await operator.post(`/api/v1/admin/agent-orgs/${a.org_id}/suspend`, {}), 409, 'conflict');

    assert.equal((await status(t, a.api_key)).statusCode, 401);
    assert.equal((await bearer(t, key.json().token, { url: '/api/v1/org' })).statusCode, 401);
    assert.deepEqual((await introspect(t, a.api_key, TOOLS)).json(), { active: false });
    // No new key for the suspended org either, whoever asks.
    assertProblem(await owner.post('/api/v1/org/tokens', { name: 'again' }, a.org_id), 403, 'org_suspended');
    const listed = (await operator.get('/api/v1/admin/agent-suspensions')).json().data;
    assert.ok(listed.some((s: { org_id: string }) => s.org_id === a.org_id));
    const events = await t.deps.db
      .selectFrom('audit_events')
      .select(['action', 'actor'])
      .where('org_id', '=', a.org_id)
      .where('action', 'in', ['agent_org.suspended', 'token.revoked'])
      .execute();
    assert.equal(events.filter((e) => e.action === 'agent_org.suspended').length, 1);
    assert.equal(events.filter((e) => e.action === 'token.revoked').length, 2);
    // Lifting it does not bring the revoked keys back.
    assert.equal((await operator.delete(`/api/v1/admin/agent-orgs/${a.org_id}/suspend`)).statusCode, 204);
    assert.equal((await status(t, a.api_key)).statusCode, 401);
    assert.equal(
      (await owner.post('/api/v1/org/tokens', { name: 'after' }, a.org_id)).statusCode,
      201,
      'the owner mints again once the suspension is lifted',
    );
    assertProblem(await operator.delete(`/api/v1/admin/agent-orgs/${a.org_id}/suspend`), 404, 'not_found');
  });

  it('refused attempts are kept 90 days, then the sweep drops them', async () => {
    assert.ok((await operator.get('/api/v1/admin/agent-blocked-attempts')).json().data.length > 0);
    clock.advance(91 * DAY);
    await sweepAgents({ db: t.deps.db, clock, auth: t.deps.auth, plans: t.deps.config.agentPlans });
    const left = await t.deps.db.selectFrom('agent_blocked_attempts').select('id').execute();
    assert.deepEqual(left, []);
  });
});

describe('unclaimed agent orgs expire', () => {
  const clock = manualClock(new Date('2026-12-05T10:00:00Z'));
  let t: TestServer;
  before(async () => {
    t = await testServer({ clock, toml: TOML });
  });
  after(() => t.close());

  it('after 30 days its key is revoked first and the org deleted, audited; claimed and young agents stay', async () => {
    const old = await signupAgent(t);
    const claimed = await signupAgent(t);
    assert.equal((await verify(t, claimed.api_key, await codeFor(t, claimed.human))).statusCode, 200);
    clock.advance(29 * DAY);
    const young = await signupAgent(t);
    const sweep = () =>
      sweepAgents({ db: t.deps.db, clock, auth: t.deps.auth, plans: t.deps.config.agentPlans });
    assert.deepEqual((await sweep()).deletedOrgs, [], 'nothing is due at 29 days');
    assert.equal((await status(t, old.api_key)).statusCode, 200);

    clock.advance(1 * DAY + 1000);
    assert.deepEqual((await sweep()).deletedOrgs, [old.org_id]);
    assert.equal((await status(t, old.api_key)).statusCode, 401);
    assert.deepEqual((await introspect(t, old.api_key, TOOLS)).json(), { active: false });
    const org = await t.deps.db
      .selectFrom('orgs')
      .select('id')
      .where('id', '=', old.org_id)
      .executeTakeFirst();
    assert.equal(org, undefined);
    const key = await t.deps.db
      .selectFrom('api_tokens')
      .select('id')
      .where('token_hash', '=', hashToken(old.api_key))
      .executeTakeFirst();
    assert.equal(key, undefined, 'the key went with its org');
    // The audit rows outlive the org, in order: the key revoked, the agent expired, the org deleted.
    const events = await t.deps.db
      .selectFrom('audit_events')
      .select(['action', 'actor', 'data'])
      .where('org_id', '=', old.org_id)
      .where('actor', '=', 'system:agent-sweep')
      .orderBy('id')
      .execute();
    assert.deepEqual(
      events.map((e) => e.action),
      ['token.revoked', 'agent.expired', 'org.deleted'],
    );
    // The claimed agent and the younger one work on.
    assert.equal((await status(t, claimed.api_key)).statusCode, 200);
    assert.equal((await status(t, young.api_key)).statusCode, 200);
    assert.deepEqual((await sweep()).deletedOrgs, []);
  });
});

describe('the overseer sees every agent they oversee in one list', () => {
  let t: TestServer;
  before(async () => {
    t = await testServer({ toml: TOML });
  });
  after(() => t.close());

  it('GET /api/v1/agents: the agents of every org the person owns, and those naming them; no one else', async () => {
    const human = uniqueEmail('overseer');
    // Each code goes to the same person: verify each before the next signup mails another.
    const first = await signupAgent(t, { human_email: human, display_name: 'First' });
    assert.equal((await verify(t, first.api_key, await codeFor(t, human))).statusCode, 200);
    const second = await signupAgent(t, { human_email: human, display_name: 'Second' });
    assert.equal((await verify(t, second.api_key, await codeFor(t, human))).statusCode, 200);
    const pending = await signupAgent(t, { human_email: human, display_name: 'Pending' });
    const other = await signupAgent(t, { display_name: 'Someone else' });
    const c = await (await import('./helpers.js')).signInByMagicLink(t, human);
    const res = await c.get('/api/v1/agents');
    assert.equal(res.statusCode, 200, res.body);
    const data = res.json().data as { id: string; org_id: string; org_name: string; status: string }[];
    assert.deepEqual(
      data.map((a) => a.id).sort(),
      [first.agent_id, second.agent_id, pending.agent_id].sort(),
    );
    assert.ok(!data.some((a) => a.id === other.agent_id));
    assert.equal(new Set(data.map((a) => a.org_id)).size, 3, 'one org each');
    assert.equal(data.find((a) => a.id === first.agent_id)!.org_name, 'First');
    // Paginated.
    const p1 = await c.get('/api/v1/agents?limit=2');
    assert.equal(p1.json().data.length, 2);
    const p2 = await c.get(`/api/v1/agents?limit=2&cursor=${p1.json().next_cursor}`);
    assert.equal(p2.json().data.length, 1);
    // Another person sees none of them; the agent's own key cannot list.
    const stranger = t.client();
    await stranger.signup();
    assert.deepEqual((await stranger.get('/api/v1/agents')).json().data, []);
    assert.equal((await asAgent(t, first.api_key, { url: '/api/v1/agents' })).statusCode, 403);
  });
});
