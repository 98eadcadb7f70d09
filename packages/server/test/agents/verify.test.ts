import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CODE_TTL_MS, MAX_CODE_ATTEMPTS } from '../../src/agents/limits.js';
import { manualClock } from '../../src/lib/clock.js';
import { type TestServer, testServer } from '../helpers/harness.js';
import { assertProblem, auditPage } from '../orgs/helpers.js';
import {
  asAgent,
  auditOf,
  codeFor,
  FREE_SCOPES,
  signInByMagicLink,
  signupAgent,
  status,
  UNCLAIMED_SCOPES,
  verify,
} from './helpers.js';

const MCP_TOML = `
[[resources]]
id = "tools"
url = "https://tools.example.com/mcp"
name = "Tools"
secret = "tools-resource-secret-0123456789abcdef"
accept_api_tokens = true
`;

const BLOCKED_FOR_FREE = ['mcp:debug', 'mcp:explore', 'mcp:act', 'mcp:identity'];

/** Another code than `code`, of the same shape. */
const wrong = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

describe('POST /api/v1/agent-signup/verify and GET …/status', () => {
  const clock = manualClock(new Date('2026-12-02T09:00:00Z'));
  let t: TestServer;
  before(async () => {
    t = await testServer({ clock, toml: MCP_TOML });
  });
  after(() => t.close());

  it('status before: unclaimed, restricted, not ready to install', async () => {
    const a = await signupAgent(t);
    const res = await status(t, a.api_key);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), {
      claim_status: 'unclaimed',
      restrictions: {
        allowed_scopes: UNCLAIMED_SCOPES,
        blocked_scopes: ['mcp:write', 'mcp:clone:write', 'mcp:trace:read', ...BLOCKED_FOR_FREE],
        mcp_calls_per_day: 200,
        guard_runs_per_month: 50,
        limits: {
          mcp_calls_per_day: { limit: 200, period: 'day' },
          guard_runs_per_month: { limit: 50, period: 'month' },
        },
      },
      entitlements: { plan: 'free', mcp_install_ready: false },
    });
  });

  it('the right code claims the agent: 200, the free plan, install guidance; the human owns the org', async () => {
    const a = await signupAgent(t, { harness: 'claude-code' });
    const res = await verify(t, a.api_key, await codeFor(t, a.human));
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.deepEqual(Object.keys(body).sort(), [
      'install_hint',
      'mcp_install_url',
      'scopes_upgraded',
      'status',
    ]);
    assert.equal(body.status, 'claimed');
    assert.deepEqual(body.scopes_upgraded, FREE_SCOPES);
    assert.equal(body.mcp_install_url, 'http://localhost:8484/agents/install?harness=claude-code');
    assert.match(
      body.install_hint,
      /claude mcp add --transport http 'tools' 'https:\/\/tools\.example\.com\/mcp'/,
    );

    const after = await status(t, a.api_key);
    assert.deepEqual(after.json(), {
      claim_status: 'claimed',
      restrictions: {
        allowed_scopes: FREE_SCOPES,
        blocked_scopes: BLOCKED_FOR_FREE,
        mcp_calls_per_day: 1000,
        guard_runs_per_month: 50,
        limits: {
          mcp_calls_per_day: { limit: 1000, period: 'day' },
          guard_runs_per_month: { limit: 50, period: 'month' },
        },
      },
      entitlements: { plan: 'free', mcp_install_ready: true },
    });

    // The human had no account: one was made, without a password. A magic link signs them in,
    // and they own the agent's org and see the agent there.
    const account = await t.deps.db
      .selectFrom('users')
      .select(['password_hash'])
      .where('email', '=', a.human)
      .executeTakeFirstOrThrow();
    assert.equal(account.password_hash, null);
    const human = await signInByMagicLink(t, a.human);
    const me = (await human.get('/api/v1/me')).json();
    const org = me.orgs.find((o: { id: string }) => o.id === a.org_id);
    assert.equal(org?.role, 'owner');
    const list = await human.get('/api/v1/org/agents', a.org_id);
    assert.equal(list.statusCode, 200, list.body);
    const [listed] = list.json().data;
    assert.equal(listed.id, a.agent_id);
    assert.equal(listed.status, 'claimed');
    assert.equal(listed.human_email, a.human);
    assert.equal(listed.harness, 'claude-code');
    assert.deepEqual(listed.restrictions.allowed_scopes, FREE_SCOPES);

    // The audit trail, as the owner reads it, names the agent as the actor of every step.
    const trail = await auditPage(human, a.org_id, `actor=${encodeURIComponent(`agent:${a.agent_id}`)}`);
    assert.deepEqual(trail.data.map((e) => e.action).reverse(), [
      'org.created',
      'agent.signup',
      'token.created',
      'agent.claimed',
    ]);
    assert.equal(trail.data[0]!.data.via, 'code');

    // Once claimed, the code is spent: verifying again is a conflict.
    assertProblem(await verify(t, a.api_key, await codeFor(t, a.human)), 409, 'conflict');
  });

  it('an existing account becomes the owner, and keeps its own orgs', async () => {
    const c = t.client();
    const { user, org } = await c.signup();
    const a = await signupAgent(t, { human_email: user.email });
    assert.equal((await verify(t, a.api_key, await codeFor(t, a.human))).statusCode, 200);
    const orgs = (await c.get('/api/v1/me')).json().orgs as { id: string; role: string }[];
    assert.deepEqual(
      orgs.map((o) => [o.id, o.role]).sort(),
      [
        [org.id, 'owner'],
        [a.org_id, 'owner'],
      ].sort(),
    );
  });

  it(`wrong codes count down attempts_remaining; the ${MAX_CODE_ATTEMPTS}th locks out even the right code`, async () => {
    const a = await signupAgent(t);
    const code = await codeFor(t, a.human);
    for (let left = MAX_CODE_ATTEMPTS - 1; left >= 0; left--) {
      const res = await verify(t, a.api_key, wrong(code));
      assertProblem(res, 400, 'invalid_code');
      assert.equal(res.json().attempts_remaining, left);
    }
    const locked = await verify(t, a.api_key, code);
    assertProblem(locked, 400, 'verification_locked');
    assert.equal(locked.json().attempts_remaining, 0);
    assert.equal((await status(t, a.api_key)).json().claim_status, 'unclaimed');
    const rows = await auditOf(t, a.agent_id);
    const failures = rows.filter((r) => r.action === 'agent.verification_failed');
    assert.equal(failures.length, MAX_CODE_ATTEMPTS + 1);
    assert.ok(failures.every((r) => r.actor === `agent:${a.agent_id}`));
    assert.deepEqual(failures.at(-1)!.data, { reason: 'locked', attempts_remaining: 0 });
  });

  it('concurrent wrong guesses are counted one by one', async () => {
    const a = await signupAgent(t);
    const code = await codeFor(t, a.human);
    const results = await Promise.all(
      Array.from({ length: MAX_CODE_ATTEMPTS + 3 }, () => verify(t, a.api_key, wrong(code))),
    );
    const remaining = results
      .filter((r) => r.json().code === 'invalid_code')
      .map((r) => r.json().attempts_remaining)
      .sort();
    assert.deepEqual(remaining, [0, 1, 2, 3, 4]);
    assertProblem(await verify(t, a.api_key, code), 400, 'verification_locked');
  });

  it('a code is good for 15 minutes; at 15 min + 1 ms it is code_expired', async () => {
    const onTime = await signupAgent(t);
    const late = await signupAgent(t);
    clock.advance(CODE_TTL_MS);
    assert.equal((await verify(t, onTime.api_key, await codeFor(t, onTime.human))).statusCode, 200);
    clock.advance(1);
    const res = await verify(t, late.api_key, await codeFor(t, late.human));
    assertProblem(res, 400, 'code_expired');
    assert.equal((await status(t, late.api_key)).json().claim_status, 'unclaimed');
  });

  it('a malformed code is refused without spending an attempt', async () => {
    const a = await signupAgent(t);
    for (const code of ['12345', '1234567', 'abcdef', '']) {
      const res = await verify(t, a.api_key, code);
      assertProblem(res, 400, 'invalid_request', code);
    }
    const res = await verify(t, a.api_key, wrong(await codeFor(t, a.human)));
    assert.equal(res.json().attempts_remaining, MAX_CODE_ATTEMPTS - 1);
  });

  it('needs an agent key: none is 401, another credential 403, a broken one 401', async () => {
    const c = t.client();
    await c.signup();
    // The routes declare that they take agent keys only: any other credential is refused first.
    assertProblem(await c.get('/api/v1/agent-signup/status'), 403, 'credential_not_accepted');
    assertProblem(
      await c.post('/api/v1/agent-signup/verify', { verification_code: '123456' }),
      403,
      'credential_not_accepted',
    );
    assertProblem(await t.client().get('/api/v1/agent-signup/status'), 401, 'unauthorized');
    const a = await signupAgent(t);
    // Change the last character (to one it is not), which breaks the checksum.
    const broken = `${a.api_key.slice(0, -1)}${a.api_key.endsWith('x') ? 'y' : 'x'}`;
    assertProblem(await status(t, broken), 401, 'unauthorized');
    // An agent cannot act in another org.
    const other = await signupAgent(t);
    assertProblem(
      await asAgent(t, a.api_key, { url: '/api/v1/agent-signup/status', org: other.org_id }),
      403,
      'org_forbidden',
    );
  });
});
