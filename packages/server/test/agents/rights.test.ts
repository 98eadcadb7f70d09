import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestServer, testServer, uniqueEmail } from '../helpers/harness.js';
import { introspect } from '../oauth/helpers.js';
import { assertProblem } from '../orgs/helpers.js';
import { asAgent, codeFor, FREE_SCOPES, signupAgent, UNCLAIMED_SCOPES, verify } from './helpers.js';

const TOOLS = ['tools', 'tools-resource-secret-0123456789abcdef'] as [string, string];
const NARROW = ['narrow', 'narrow-resource-secret-0123456789abcdef'] as [string, string];
const CLOSED = ['closed', 'closed-resource-secret-0123456789abcdef'] as [string, string];

const TOML = `
[[resources]]
id = "${TOOLS[0]}"
url = "https://tools.example.com/mcp"
name = "Tools"
secret = "${TOOLS[1]}"
accept_api_tokens = true

[[resources]]
id = "${NARROW[0]}"
url = "https://narrow.example.com/mcp"
name = "Narrow"
scopes = ["mcp:write", "mcp:trace:read", "mcp:act"]
secret = "${NARROW[1]}"
accept_api_tokens = true

[[resources]]
id = "${CLOSED[0]}"
url = "https://closed.example.com/mcp"
name = "Closed"
secret = "${CLOSED[1]}"
`;

/** What an agent key may reach on Latchkey's own API before and after it is claimed. */
async function refusedManagement(t: TestServer, key: string, orgId: string) {
  const calls: [string, Parameters<typeof asAgent>[2]][] = [
    ['mint a PAT', { method: 'POST', url: '/api/v1/tokens', body: { name: 'x' } }],
    ['mint a service token', { method: 'POST', url: '/api/v1/tokens', body: { type: 'svc' } }],
    ['mint an org key', { method: 'POST', url: '/api/v1/org/tokens', body: { name: 'x' } }],
    [
      'invite someone',
      { method: 'POST', url: '/api/v1/org/invitations', body: { email: uniqueEmail('x'), role: 'member' } },
    ],
    ['list org keys', { url: '/api/v1/org/tokens' }],
    ['list invitations', { url: '/api/v1/org/invitations' }],
    ['list agents', { url: '/api/v1/org/agents' }],
    ['read the audit log', { url: '/api/v1/audit' }],
    ['create an org', { method: 'POST', url: '/api/v1/orgs', body: { name: 'Agent Org' } }],
  ];
  for (const [what, call] of calls) assertProblem(await asAgent(t, key, call), 403, 'forbidden', what);
  const keys = await t.deps.db.selectFrom('api_tokens').select('kind').where('org_id', '=', orgId).execute();
  assert.deepEqual(
    keys.map((k) => k.kind),
    ['svc_agent'],
    'no token was minted',
  );
  const invites = await t.deps.db
    .selectFrom('invitations')
    .select('id')
    .where('org_id', '=', orgId)
    .execute();
  assert.deepEqual(invites, [], 'nobody was invited');
}

describe('what an agent key may do', () => {
  let t: TestServer;
  before(async () => {
    t = await testServer({ toml: TOML });
  });
  after(() => t.close());

  it('unclaimed: refused token mint and invitations (403); claimed: still only its scopes', async () => {
    const a = await signupAgent(t);
    await refusedManagement(t, a.api_key, a.org_id);
    assert.equal((await verify(t, a.api_key, await codeFor(t, a.human))).statusCode, 200);
    await refusedManagement(t, a.api_key, a.org_id);
    // It can still read who it is.
    const me = await asAgent(t, a.api_key, { url: '/api/v1/me' });
    assert.equal(me.statusCode, 200);
    assert.equal(me.json().credential.kind, 'svc_agent');
  });

  it('introspection at an accept_api_tokens resource: current scopes, agent {id, claimed}, mcp_calls_per_day', async () => {
    const a = await signupAgent(t);
    const before = (await introspect(t, a.api_key, TOOLS)).json();
    assert.equal(before.active, true);
    assert.equal(before.token_kind, 'svc_agent');
    assert.equal(before.org_id, a.org_id);
    assert.equal(before.aud, 'https://tools.example.com/mcp');
    assert.deepEqual(before.scope.split(' '), UNCLAIMED_SCOPES);
    assert.deepEqual(before.agent, { id: a.agent_id, claimed: false });
    assert.equal(before.mcp_calls_per_day, 200);
    // Every limit of the plan, with its period (the seed's defaults).
    assert.deepEqual(before.limits, {
      mcp_calls_per_day: { limit: 200, period: 'day' },
      guard_runs_per_month: { limit: 50, period: 'month' },
    });
    // A resource with none of the unclaimed scopes sees the key as inactive.
    assert.deepEqual((await introspect(t, a.api_key, NARROW)).json(), { active: false });
    // A resource that does not accept API tokens never does.
    assert.deepEqual((await introspect(t, a.api_key, CLOSED)).json(), { active: false });

    assert.equal((await verify(t, a.api_key, await codeFor(t, a.human))).statusCode, 200);
    const claimed = (await introspect(t, a.api_key, TOOLS)).json();
    assert.deepEqual(claimed.scope.split(' '), FREE_SCOPES);
    assert.deepEqual(claimed.agent, { id: a.agent_id, claimed: true });
    assert.equal(claimed.mcp_calls_per_day, 1000);
    assert.deepEqual(claimed.limits, {
      mcp_calls_per_day: { limit: 1000, period: 'day' },
      guard_runs_per_month: { limit: 50, period: 'month' },
    });
    // ∩ the resource's scopes; the high-risk mcp:act is never an agent's.
    const narrow = (await introspect(t, a.api_key, NARROW)).json();
    assert.deepEqual(narrow.scope.split(' '), ['mcp:write', 'mcp:trace:read']);
    assert.deepEqual(narrow.agent, { id: a.agent_id, claimed: true });
  });

  it('other API tokens carry no agent fields', async () => {
    const c = t.client();
    const { org } = await c.signup();
    // A token minted with no scopes holds org:read only: name the resource's.
    const svc = await c.post('/api/v1/tokens', { type: 'svc', scopes: ['mcp:read'] }, org.id);
    assert.equal(svc.statusCode, 201, svc.body);
    const body = (await introspect(t, svc.json().token, TOOLS)).json();
    assert.equal(body.active, true);
    assert.equal(body.agent, undefined);
    assert.equal(body.mcp_calls_per_day, undefined);
    assert.equal(body.limits, undefined);
  });
});

describe('agent plans come from configuration', () => {
  let t: TestServer;
  before(async () => {
    t = await testServer({
      toml: `${TOML}
[agent_plans.unclaimed]
scopes = ["mcp:read"]
mcp_calls_per_day = 7

delete_after_days = 5

[agent_plans.free]
scopes = ["mcp:read", "mcp:debug", "mcp:identity"]
guard_runs_per_month = 3
clone_minutes_per_month = 600
deploys_per_day = 4
`,
    });
  });
  after(() => t.close());

  it('uses the configured numbers and scopes, never a high-risk one', async () => {
    const a = await signupAgent(t);
    const s = (await asAgent(t, a.api_key, { url: '/api/v1/agent-signup/status' })).json();
    assert.deepEqual(s.restrictions.allowed_scopes, ['mcp:read']);
    assert.equal(s.restrictions.mcp_calls_per_day, 7);
    assert.equal(s.restrictions.guard_runs_per_month, 50, 'unset keys keep their default');
    assert.equal((await introspect(t, a.api_key, TOOLS)).json().mcp_calls_per_day, 7);
    const v = (await verify(t, a.api_key, await codeFor(t, a.human))).json();
    assert.deepEqual(v.scopes_upgraded, ['mcp:read', 'mcp:debug']);
    const after = (await asAgent(t, a.api_key, { url: '/api/v1/agent-signup/status' })).json();
    assert.equal(after.restrictions.mcp_calls_per_day, 1000);
    assert.equal(after.restrictions.guard_runs_per_month, 3);
    // Any <what>_per_day / <what>_per_month key is a limit, carried with its period.
    assert.deepEqual(after.restrictions.limits, {
      mcp_calls_per_day: { limit: 1000, period: 'day' },
      guard_runs_per_month: { limit: 3, period: 'month' },
      clone_minutes_per_month: { limit: 600, period: 'month' },
      deploys_per_day: { limit: 4, period: 'day' },
    });
    assert.deepEqual((await introspect(t, a.api_key, TOOLS)).json().limits, after.restrictions.limits);
    assert.equal(t.deps.config.agentPlans.unclaimedDeleteAfterDays, 5);
    assert.ok(after.restrictions.blocked_scopes.includes('mcp:identity'));
  });

  it('refuses bad plan settings at start, naming them', async () => {
    for (const [toml, name] of [
      ['[agent_plans.premium]\nscopes = []', /agent_plans\.premium/],
      ['[agent_plans.free]\nmcp_calls_per_day = -1', /agent_plans\.free\.mcp_calls_per_day/],
      ['[agent_plans.free]\nscopes = "mcp:read"', /agent_plans\.free\.scopes/],
      ['[agent_plans.unclaimed]\nrate = 1', /agent_plans\.unclaimed\.rate/],
      ['[agent_plans.free]\ncalls_per_week = 1', /agent_plans\.free\.calls_per_week/],
      ['[agent_plans.free]\nRuns_per_day = 1', /agent_plans\.free\.Runs_per_day/],
      ['[agent_plans.free]\nruns_per_day = 1.5', /agent_plans\.free\.runs_per_day/],
      ['[agent_plans.free]\ndelete_after_days = 3', /agent_plans\.free\.delete_after_days/],
      ['[agent_plans.unclaimed]\ndelete_after_days = -1', /agent_plans\.unclaimed\.delete_after_days/],
    ] as const)
      await assert.rejects(testServer({ toml }), name);
  });
});
