import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DAY, manualClock } from '../../src/lib/clock.js';
import { SHOWN_ONCE_WARNING } from '../../src/tokens/shapes.js';
import { usageCounterOf } from '../../src/tokens/usage-routes.js';
import { type TestServer, testServer } from '../helpers/harness.js';
import { assertProblem } from '../orgs/helpers.js';
import { bearer, orgWithRoles } from '../tokens/helpers.js';

describe('org API keys: usage per day, request logs, the shown-once warning', () => {
  const clock = manualClock(new Date('2026-12-05T10:00:00Z'));
  let t: TestServer;
  before(async () => {
    t = await testServer({ clock });
  });
  after(() => t.close());

  it('the mint response says in words that the secret is shown once (org keys and personal tokens)', async () => {
    const c = t.client();
    const { org } = await c.signup();
    const key = await c.post('/api/v1/org/tokens', { name: 'ci' }, org.id);
    assert.equal(key.statusCode, 201, key.body);
    assert.equal(key.json().warning, SHOWN_ONCE_WARNING);
    assert.match(key.json().warning, /only time/);
    const pat = await c.post('/api/v1/tokens', { scopes: ['org:read'] });
    assert.equal(pat.json().warning, SHOWN_ONCE_WARNING);
    // Lists never carry it (nor the secret).
    const list = (await c.get('/api/v1/org/tokens', org.id)).json().data[0];
    assert.equal(list.warning, undefined);
    assert.equal(list.token, undefined);
  });

  it('counts requests per key per UTC day, written in batches; admins read it; others are refused', async () => {
    const { owner, org, member } = await orgWithRoles(t);
    const minted = await owner.post('/api/v1/org/tokens', { name: 'deploys' }, org.id);
    const { id, token, prefix } = minted.json();
    const other = await owner.post('/api/v1/org/tokens', { name: 'other' }, org.id);
    for (let i = 0; i < 3; i++)
      assert.equal((await bearer(t, token, { url: '/api/v1/org' })).statusCode, 200);
    // Nothing is written on the request path.
    const before0 = await t.deps.db.selectFrom('api_token_usage').selectAll().execute();
    assert.deepEqual(before0, []);
    await usageCounterOf(t.app)!.flush();
    clock.advance(DAY);
    for (let i = 0; i < 2; i++)
      assert.equal((await bearer(t, token, { url: '/api/v1/org' })).statusCode, 200);
    await bearer(t, other.json().token, { url: '/api/v1/org' });
    await usageCounterOf(t.app)!.flush();

    const res = await owner.get(`/api/v1/org/tokens/${id}/usage?days=3`, org.id);
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.token_id, id);
    assert.equal(body.prefix, prefix);
    assert.deepEqual(body.days, [
      { day: '2026-12-04', requests: 0 },
      { day: '2026-12-05', requests: 3 },
      { day: '2026-12-06', requests: 2 },
    ]);
    assert.equal(body.total, 5);
    assert.ok(body.last_used_at, 'last used stays');
    // The default is 30 days, the most 90.
    assert.equal((await owner.get(`/api/v1/org/tokens/${id}/usage`, org.id)).json().days.length, 30);
    assertProblem(await owner.get(`/api/v1/org/tokens/${id}/usage?days=91`, org.id), 400, 'invalid_request');
    // A member may not read it; another org does not see the key; a PAT's id is no org key.
    assertProblem(await member.get(`/api/v1/org/tokens/${id}/usage`, org.id), 403, 'forbidden');
    const stranger = t.client();
    const { org: theirs } = await stranger.signup();
    assertProblem(await stranger.get(`/api/v1/org/tokens/${id}/usage`, theirs.id), 404, 'not_found');
    const pat = await owner.post('/api/v1/tokens', { scopes: ['org:read'] });
    assertProblem(await owner.get(`/api/v1/org/tokens/${pat.json().id}/usage`, org.id), 404, 'not_found');

    // Kept 90 days.
    clock.advance(91 * DAY);
    const { sweepAgents } = await import('../../src/agents/controls.js');
    const swept = await sweepAgents({
      db: t.deps.db,
      clock,
      auth: t.deps.auth,
      plans: t.deps.config.agentPlans,
    });
    assert.ok(swept.prunedUsage >= 2);
  });

  it('request logs name the key kind and display prefix on every authenticated request, never the secret', async () => {
    const c = t.client();
    const { org } = await c.signup();
    const { token, prefix } = (await c.post('/api/v1/org/tokens', { name: 'traced' }, org.id)).json();
    const from = t.logs.length;
    assert.equal((await bearer(t, token, { url: '/api/v1/org' })).statusCode, 200);
    const lines = t.logs.slice(from).map((l) => JSON.parse(l) as { msg: string; credential?: unknown });
    const done = lines.find((l) => l.msg === 'request completed');
    assert.deepEqual(done?.credential, { kind: 'org', prefix });
    assert.ok(!t.logs.slice(from).join('\n').includes(token), 'the secret is never logged');
    // A session is named by its kind.
    const from2 = t.logs.length;
    await c.get('/api/v1/me');
    const done2 = t.logs
      .slice(from2)
      .map((l) => JSON.parse(l) as { msg: string; credential?: unknown })
      .find((l) => l.msg === 'request completed');
    assert.deepEqual(done2?.credential, { kind: 'session' });
  });
});

describe('GET /llms.txt', () => {
  let t: TestServer;
  before(async () => {
    t = await testServer({
      toml: `
[[resources]]
id = "tools"
url = "https://tools.example.com/mcp"
name = "Tools"
secret = "tools-resource-secret-0123456789abcdef"
accept_api_tokens = true

[agent_plans.unclaimed]
mcp_calls_per_day = 42
delete_after_days = 12

[agent_plans.free]
guard_runs_per_month = 77
`,
    });
  });
  after(() => t.close());

  it('tells agents how to sign up, verify and check status, with the running scopes and limits', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/llms.txt' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    const text = res.body;
    assert.match(text, /^# Latchkey\n/);
    assert.match(text, /POST http:\/\/localhost:8484\/api\/v1\/agent-signup/);
    assert.match(text, /POST http:\/\/localhost:8484\/api\/v1\/agent-signup\/verify/);
    assert.match(text, /GET http:\/\/localhost:8484\/api\/v1\/agent-signup\/status/);
    assert.match(text, /`mcp_calls_per_day`: 42 per UTC day/);
    assert.match(text, /`guard_runs_per_month`: 77 per calendar month \(UTC\)/);
    assert.match(text, /`guard_runs_per_month`: 50 per calendar month/);
    assert.match(text, /12 days after signing up/);
    assert.match(text, /scopes `mcp:read`, `mcp:run`; blocked/);
    assert.match(text, /Tools: https:\/\/tools\.example\.com\/mcp/);
    assert.match(text, /agent_signup_blocked/);
    assert.match(text, /`zed`/);
  });
});
