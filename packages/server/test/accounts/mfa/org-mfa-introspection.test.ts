import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TOTP_PERIOD_SECONDS, totpCode } from '../../../src/accounts/mfa/totp.js';
import { DAY, manualClock, MINUTE } from '../../../src/lib/clock.js';
import {
  type Client,
  lastMailTo,
  linkIn,
  type TestServer,
  testServer,
  tokenFrom,
} from '../../helpers/harness.js';
import { introspect, OAUTH_TOML, tokensFor } from '../../oauth/helpers.js';
import { mintPat } from '../../tokens/helpers.js';

const TOOLS_ID = 'tools-mcp';
const TOOLS_URL = 'https://tools.example.com/mcp';
const TOOLS_SECRET = 'tools-resource-secret-0123456789abcdef';
const TOML = `${OAUTH_TOML}
[[resources]]
id = "${TOOLS_ID}"
url = "${TOOLS_URL}"
name = "Tools MCP"
secret = "${TOOLS_SECRET}"
accept_api_tokens = true
`;

const clock = manualClock(new Date('2026-12-05T06:00:00Z'));
let t: TestServer;
before(async () => {
  t = await testServer({ clock, toml: TOML });
});
after(() => t.close());

async function enrolTotp(c: Client) {
  const start = await c.post('/api/v1/me/mfa/totp');
  assert.equal(start.statusCode, 200, start.body);
  const secret = start.json().secret as string;
  const ok = await c.post('/api/v1/me/mfa/totp/confirm', { code: totpCode(secret, clock.now()) });
  assert.equal(ok.statusCode, 200, ok.body);
  clock.advance(TOTP_PERIOD_SECONDS * 1000);
}

/** An owner with a factor, and a member without one, of an org that requires a factor (1 day's grace). */
async function requiringOrg() {
  const owner = t.client();
  const o = await owner.signup();
  const member = t.client();
  const m = await member.signup();
  const inv = await owner.post(
    '/api/v1/org/invitations',
    { email: m.user.email, role: 'member' },
    o.org.slug,
  );
  assert.equal(inv.statusCode, 201, inv.body);
  const mail = await lastMailTo(t.outboxDir, m.user.email);
  const acc = await member.post('/api/v1/invitations/accept', {
    token: tokenFrom(linkIn(mail.text, 'http://localhost:8484/invite')),
  });
  assert.ok(acc.statusCode === 200 || acc.statusCode === 201, acc.body);
  await enrolTotp(owner);
  const on = await owner.req({
    method: 'PUT',
    url: '/api/v1/org/mfa',
    body: { mfa_required: true, grace_days: 1 },
    org: o.org.slug,
  });
  assert.equal(on.statusCode, 200, on.body);
  return { owner, o, member, m };
}

describe('mfa_required and introspection', () => {
  it("answers active: false for an OAuth token of a member without a factor once the org's grace is over", async () => {
    const { owner, o, member, m } = await requiringOrg();
    // Half an hour before the grace ends, the member authorises an app in the org, and one in their own.
    clock.advance(DAY - 30 * MINUTE);
    const inOrg = await tokensFor(t, member, { scope: 'mcp:read', org: o.org.id });
    const inOwn = await tokensFor(t, member, { scope: 'mcp:read', org: m.org.id });
    const ownerTokens = await tokensFor(t, owner, { scope: 'mcp:read', org: o.org.id });
    const svc = await mintPat(
      owner,
      { name: 'ci', type: 'svc', expires_in: 7200, scopes: ['mcp:read'] },
      o.org.id,
    );
    assert.equal((await introspect(t, inOrg.tokens.access_token)).json().active, true, 'within the grace');

    clock.advance(31 * MINUTE);
    const after = await introspect(t, inOrg.tokens.access_token);
    assert.equal(after.statusCode, 200);
    assert.deepEqual(after.json(), { active: false });
    // Their own org, the owner (who has a factor) and a service token (no person) are not affected.
    assert.equal((await introspect(t, inOwn.tokens.access_token)).json().active, true);
    assert.equal((await introspect(t, ownerTokens.tokens.access_token)).json().active, true);
    const svcSeen = (await introspect(t, svc.token, [TOOLS_ID, TOOLS_SECRET])).json();
    assert.equal(svcSeen.active, true);
    assert.equal(svcSeen.org_id, o.org.id);

    // Enrolling brings the member's token back (the remembered answer lasts at most 30 seconds).
    await enrolTotp(member);
    clock.advance(31_000);
    assert.equal((await introspect(t, inOrg.tokens.access_token)).json().active, true);
  });

  it('keeps answering active: true through the grace period', async () => {
    const { o, member } = await requiringOrg();
    const { tokens } = await tokensFor(t, member, { scope: 'mcp:read', org: o.org.id });
    const seen = (await introspect(t, tokens.access_token)).json();
    assert.equal(seen.active, true);
    assert.equal(seen.org_id, o.org.id);
  });
});
