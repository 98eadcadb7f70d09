import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { TOTP_PERIOD_SECONDS, totpCode } from '../../src/accounts/mfa/totp.js';
import { DAY, manualClock } from '../../src/lib/clock.js';
import { signupAgent } from '../agents/helpers.js';
import { type Client, type TestServer, testServer } from '../helpers/harness.js';
import { bearer, mintPat, orgWithRoles } from '../tokens/helpers.js';
import {
  authorizeUrl,
  consent,
  form,
  MCP_ID,
  MCP_SECRET,
  MCP_URL,
  OAUTH_TOML,
  OTHER_ID,
  OTHER_SECRET,
  pkce,
  REDIRECT,
  tokensFor,
} from './helpers.js';

const OPEN_ID = 'org-named-tools';
const OPEN_URL = 'https://tools.example.com/mcp';
const OPEN_SECRET = 'org-named-tools-secret-0123456789abcdef';
const OPEN: [string, string] = [OPEN_ID, OPEN_SECRET];
const MCP: [string, string] = [MCP_ID, MCP_SECRET];
const ADMIN_TOKEN = 'introspect-org-break-glass-0123456789abcdef';

const TOML = `${OAUTH_TOML}
[[resources]]
id = "${OPEN_ID}"
url = "${OPEN_URL}"
name = "Tools MCP"
secret = "${OPEN_SECRET}"
accept_api_tokens = true
`;

const INACTIVE = { active: false };

describe('introspection with an org named (`org`, id or slug)', () => {
  const clock = manualClock(new Date('2026-12-05T09:00:00Z'));
  let t: TestServer;
  before(async () => {
    t = await testServer({ clock, toml: TOML, env: { ADMIN_TOKEN } });
  });
  after(() => t.close());

  /** Introspects `token` as the resource `as`, naming `org` when given. */
  async function ask(token: string, org?: string, as: [string, string] = OPEN) {
    const res = await form(
      t,
      '/api/oauth/introspect',
      { token, ...(org !== undefined ? { org } : {}) },
      { basic: as },
    );
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    return res.json() as Record<string, unknown>;
  }

  describe('refusals: every one is {active: false}', () => {
    it('a PAT naming an org its person is not a member of, by id or slug, or one that does not exist', async () => {
      const outsider = t.client();
      await outsider.signup();
      const pat = await mintPat(outsider, { scopes: ['mcp:read'] });
      const { org: theirs } = await t.client().signup();
      for (const org of [
        theirs.id,
        theirs.slug,
        theirs.id.toUpperCase(),
        randomUUID(),
        'no-such-org',
        'x'.repeat(300),
        ' ',
      ]) {
        assert.deepEqual(await ask(pat.token, org), org === ' ' ? await ask(pat.token) : INACTIVE, org);
      }
      // The same token without an org is still live: only the org is refused.
      assert.equal((await ask(pat.token)).active, true);
    });

    it('a member removed from the org is inactive there at once (no cache window), by slug and by id', async () => {
      const { owner, org, member, ids } = await orgWithRoles(t);
      const pat = await mintPat(member, { scopes: ['mcp:read'] });
      assert.equal((await ask(pat.token, org.slug)).active, true);
      assert.equal((await ask(pat.token, org.id)).active, true);
      const removed = await owner.req({
        method: 'DELETE',
        url: `/api/v1/org/members/${ids.member}`,
        org: org.id,
      });
      assert.equal(removed.statusCode, 204, removed.body);
      assert.deepEqual(await ask(pat.token, org.slug), INACTIVE);
      assert.deepEqual(await ask(pat.token, org.id), INACTIVE);
      // Their own org still answers.
      assert.equal((await ask(pat.token)).active, true);
    });

    it('a PAT whose person the org shuts out with mfa_required (after the grace period)', async () => {
      const { owner, org, member } = await orgWithRoles(t);
      await enrolTotp(owner);
      const on = await owner.req({
        method: 'PUT',
        url: '/api/v1/org/mfa',
        body: { mfa_required: true, grace_days: 1 },
        org: org.id,
      });
      assert.equal(on.statusCode, 200, on.body);
      const pat = await mintPat(member, { scopes: ['mcp:read', 'org:read'] });
      const ownerPat = await mintPat(owner, { scopes: ['mcp:read'] });
      assert.equal((await ask(pat.token, org.id)).active, true, 'within the grace period');
      clock.advance(DAY + 60_000);
      assert.deepEqual(await ask(pat.token, org.id), INACTIVE);
      assert.deepEqual(await ask(pat.token, org.slug), INACTIVE);
      // As for the API: the same person still acts elsewhere, and the owner (with a factor) here.
      assert.equal((await ask(pat.token)).active, true);
      assert.equal((await ask(ownerPat.token, org.id)).org_role, 'owner');
      // The API refuses the same credential in that org, for the same reason.
      const api = await bearer(t, pat.token, { url: '/api/v1/org', org: org.id });
      assert.equal(api.statusCode, 403, api.body);
      assert.equal(api.json().code, 'mfa_enrolment_required');
    });

    it('a PAT of a disabled account', async () => {
      const c = t.client();
      const { user, org } = await c.signup();
      const pat = await mintPat(c, { scopes: ['mcp:read'] });
      assert.equal((await ask(pat.token, org.id)).active, true);
      const off = await bearer(t, ADMIN_TOKEN, {
        method: 'POST',
        url: `/api/v1/admin/users/${user.id}/disable`,
      });
      assert.equal(off.statusCode, 200, off.body);
      assert.deepEqual(await ask(pat.token, org.id), INACTIVE);
      assert.deepEqual(await ask(pat.token), INACTIVE);
    });

    it('credentials bound to one org naming another: service token, org key, agent key, OAuth token', async () => {
      const c = t.client();
      const { org } = await c.signup();
      const { org: other } = await t.client().signup();
      const svc = await mintPat(c, { name: 'ci', type: 'svc', scopes: ['mcp:read'] }, org.id);
      const key = await c.post('/api/v1/org/tokens', { name: 'deploys', scopes: ['mcp:read'] }, org.id);
      assert.equal(key.statusCode, 201, key.body);
      const agent = await signupAgent(t);
      const { tokens } = await tokensFor(t, c, { scope: 'mcp:read', org: org.id });
      for (const [what, token, as] of [
        ['service token', svc.token, OPEN],
        ['org key', key.json().token as string, OPEN],
        ['agent key', agent.api_key, OPEN],
        ['OAuth token', tokens.access_token, MCP],
      ] as const) {
        assert.equal((await ask(token, undefined, as)).active, true, what);
        for (const named of [other.id, other.slug, randomUUID()])
          assert.deepEqual(await ask(token, named, as), INACTIVE, `${what} naming ${named}`);
      }
    });

    it('a resource that is not the token’s audience, even naming the right org', async () => {
      const c = t.client();
      const { org } = await c.signup();
      const pat = await mintPat(c, { scopes: ['mcp:read'] });
      // The MCP resource does not accept API tokens; the other API holds none of the PAT's scopes.
      assert.deepEqual(await ask(pat.token, org.id, MCP), INACTIVE);
      assert.deepEqual(await ask(pat.token, org.id, [OTHER_ID, OTHER_SECRET]), INACTIVE);
      const { tokens } = await tokensFor(t, c, { scope: 'mcp:read', org: org.id });
      assert.deepEqual(await ask(tokens.access_token, org.id, [OTHER_ID, OTHER_SECRET]), INACTIVE);
      assert.deepEqual(await ask(tokens.access_token, org.id, OPEN), INACTIVE);
    });

    it('`org` given twice is a bad request', async () => {
      const c = t.client();
      const { org } = await c.signup();
      const pat = await mintPat(c, { scopes: ['mcp:read'] });
      const body = new URLSearchParams([
        ['token', pat.token],
        ['org', org.id],
        ['org', org.slug],
      ]);
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/oauth/introspect',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${OPEN_ID}:${OPEN_SECRET}`).toString('base64')}`,
        },
        payload: body.toString(),
      });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().error, 'invalid_request');
    });
  });

  describe('answers', () => {
    it("a member's PAT names the org it acts in: org_id, org_slug and their role there", async () => {
      const { org, member, admin, ids } = await orgWithRoles(t);
      const pat = await mintPat(member, { scopes: ['mcp:read', 'mcp:write'] });
      const plain = await ask(pat.token);
      for (const named of [org.id, org.slug]) {
        const seen = await ask(pat.token, named);
        assert.deepEqual(seen, { ...plain, org_id: org.id, org_slug: org.slug, org_role: 'member' }, named);
      }
      assert.equal(plain.sub, ids.member);
      const adminPat = await mintPat(admin, { scopes: ['mcp:read'] });
      assert.equal((await ask(adminPat.token, org.slug)).org_role, 'admin');
    });

    it('without `org` the answer is as before: a PAT has org_id null and no slug or role', async () => {
      const c = t.client();
      await c.signup();
      const pat = await mintPat(c, { scopes: ['mcp:read'] });
      const plain = await ask(pat.token);
      assert.equal(plain.active, true);
      assert.equal(plain.org_id, null);
      assert.equal('org_slug' in plain, false);
      assert.equal('org_role' in plain, false);
      assert.deepEqual(await ask(pat.token, ''), plain, 'an empty org is no org');
    });

    it('credentials bound to the org they name answer as without it, plus the slug (and the role of a person)', async () => {
      const c = t.client();
      const { org } = await c.signup();
      const svc = await mintPat(c, { name: 'ci', type: 'svc', scopes: ['mcp:read'] }, org.id);
      const key = await c.post('/api/v1/org/tokens', { name: 'deploys', scopes: ['mcp:read'] }, org.id);
      const agent = await signupAgent(t);
      const agentOrg = (await ask(agent.api_key)).org_id as string;
      for (const [token, orgRef] of [
        [svc.token, org.slug],
        [key.json().token as string, org.id],
        [agent.api_key, agentOrg],
      ] as const) {
        const plain = await ask(token);
        const seen = await ask(token, orgRef);
        assert.equal(seen.org_id, plain.org_id);
        assert.equal(typeof seen.org_slug, 'string');
        assert.equal('org_role' in seen, false, 'no person, no role');
        const { org_slug: _slug, ...rest } = seen;
        assert.deepEqual(rest, plain);
      }
      const { tokens } = await tokensFor(t, c, { scope: 'mcp:read', org: org.id });
      const plain = await ask(tokens.access_token, undefined, MCP);
      for (const named of [org.id, org.slug])
        assert.deepEqual(await ask(tokens.access_token, named, MCP), {
          ...plain,
          org_slug: org.slug,
          org_role: 'owner',
        });
    });
  });

  it('the OpenAPI document describes `org` in the form and the org members of the answer', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/api/openapi.json' })).json();
    const op = doc.paths['/api/oauth/introspect'].post;
    const form = op.requestBody.content['application/x-www-form-urlencoded'].schema;
    assert.match(form.properties.org.description, /id or slug/);
    const answer = op.responses['200'].content['application/json'].schema;
    for (const k of ['org_id', 'org_slug', 'org_role']) assert.ok(answer.properties[k]?.description, k);
  });

  async function enrolTotp(c: Client) {
    const start = await c.post('/api/v1/me/mfa/totp');
    assert.equal(start.statusCode, 200, start.body);
    const secret = start.json().secret as string;
    const ok = await c.post('/api/v1/me/mfa/totp/confirm', { code: totpCode(secret, clock.now()) });
    assert.equal(ok.statusCode, 200, ok.body);
    clock.advance(TOTP_PERIOD_SECONDS * 1000);
  }
  it("a client introspecting its own token with org learns where it acts, not the person's role", async () => {
    const owner = t.client();
    const { org } = await owner.signup();
    const created = await owner.post(
      '/api/v1/oauth/clients',
      { name: 'Back office', type: 'confidential', redirect_uris: [REDIRECT] },
      org.id,
    );
    assert.equal(created.statusCode, 201, created.body);
    const app = created.json() as { client_id: string; client_secret: string };
    const p = pkce();
    const back = await consent(
      owner,
      authorizeUrl({ clientId: app.client_id, challenge: p.challenge, scope: 'mcp:read' }),
      { org: org.id },
    );
    const code = back.searchParams.get('code');
    assert.ok(code, back.href);
    const issued = await form(
      t,
      '/api/oauth/token',
      {
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT,
        code_verifier: p.verifier,
        resource: MCP_URL,
      },
      { basic: [app.client_id, app.client_secret] },
    );
    assert.equal(issued.statusCode, 200, issued.body);
    const token = issued.json().access_token as string;
    const asClient: [string, string] = [app.client_id, app.client_secret];
    const seen = await ask(token, org.slug, asClient);
    assert.equal(seen.active, true);
    assert.equal(seen.org_id, org.id);
    assert.equal('org_role' in seen, false);
    assert.equal('org_slug' in seen, false);
    assert.equal('email' in seen, false);
    // The resource server it was issued for is told the person's role there.
    assert.equal((await ask(token, org.slug, MCP)).org_role, 'owner');
  });
});
