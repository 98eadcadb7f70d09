import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestServer, testServer } from '../helpers/harness.js';
import { assertProblem, join, stranger, type Team, team } from '../orgs/helpers.js';
import { authorizeUrl, formFields, MCP_ID, MCP_SECRET, MCP_URL, REDIRECT, register } from './helpers.js';
import { documentServer } from './mcp-helpers.js';

const TOML = `
[[resources]]
id = "${MCP_ID}"
url = "${MCP_URL}"
name = "Example MCP"
secret = "${MCP_SECRET}"

[resources.tools]
"mcp:read" = ["list_notes", "read_note"]
"mcp:act" = ["send_email"]
`;

const PATH = '/api/v1/org/oauth/approved-clients';

/**
 * Admin-approved clients: an org admin marks a client as approved for the org; its members then
 * skip the consent screen for ordinary scopes. High-risk scopes always ask; other orgs' members
 * are not affected; only admins (oauth:manage) with a proven address may approve.
 */
describe('admin-approved clients', () => {
  let t: TestServer;
  let x: Team;
  let docs: Awaited<ReturnType<typeof documentServer>>;
  before(async () => {
    docs = await documentServer();
    t = await testServer({ toml: TOML, env: { CIMD_ALLOW_LOOPBACK: 'true' } });
    x = await team(t);
  });
  after(async () => {
    await t.close();
    await docs.close();
  });

  const approve = (clientId: string) => x.people.admin.client.post(PATH, { client_id: clientId }, x.org.id);

  it('lets an admin approve a client; members then skip consent for ordinary scopes, audited', async () => {
    const client = await register(t);
    const made = await approve(client.client_id);
    assert.equal(made.statusCode, 201, made.body);
    assert.equal(made.json().client_id, client.client_id);
    assert.equal(made.json().client_kind, 'dcr');
    const list = await x.people.admin.client.get(PATH, x.org.id);
    assert.ok(list.json().data.some((a: { id: string }) => a.id === made.json().id));
    assertProblem(await approve(client.client_id), 409, 'conflict');

    const res = await x.people.member.client.get(
      authorizeUrl({ clientId: client.client_id, scope: 'mcp:read mcp:write' }),
    );
    assert.equal(res.statusCode, 303, res.body);
    const back = new URL(res.headers.location as string);
    assert.equal(back.origin + back.pathname, REDIRECT);
    assert.ok(back.searchParams.get('code'));
    const events = await t.deps.db
      .selectFrom('audit_events')
      .select(['action', 'data', 'org_id'])
      .where('target', '=', `client:${client.client_id}`)
      .execute();
    assert.ok(events.some((e) => e.action === 'oauth.client_approved' && e.org_id === x.org.id));
    const given = events.find((e) => e.action === 'oauth.consent_given');
    assert.ok(given, 'consent recorded');
    assert.equal((given.data as { admin_approved?: boolean }).admin_approved, true);
    assert.equal(given.org_id, x.org.id);
  });

  it('still asks for consent when a high-risk scope is requested, even when approved', async () => {
    const client = await register(t);
    assert.equal((await approve(client.client_id)).statusCode, 201);
    const page = await x.people.member.client.get(
      authorizeUrl({ clientId: client.client_id, scope: 'mcp:read mcp:act' }),
    );
    assert.equal(page.statusCode, 200, page.body);
    assert.deepEqual(formFields(page.body).scopes, [
      { value: 'mcp:read', checked: true },
      { value: 'mcp:act', checked: false },
    ]);
    // prompt=consent asks too.
    const asked = await x.people.member.client.get(
      authorizeUrl({ clientId: client.client_id, scope: 'mcp:read', extra: { prompt: 'consent' } }),
    );
    assert.equal(asked.statusCode, 200);
  });

  it("does not skip consent for another org's members", async () => {
    const client = await register(t);
    assert.equal((await approve(client.client_id)).statusCode, 201);
    const y = await stranger(t, 'Other Org Person');
    const page = await y.client.get(authorizeUrl({ clientId: client.client_id, scope: 'mcp:read' }));
    assert.equal(page.statusCode, 200, page.body);
    assert.match(page.body, /Allow it to/);
  });

  it('refuses members and billing (403), people outside the org, and unverified admins', async () => {
    const client = await register(t);
    for (const role of ['member', 'billing'] as const) {
      const res = await x.people[role].client.post(PATH, { client_id: client.client_id }, x.org.id);
      assert.equal(res.statusCode, 403, `${role}: ${res.body}`);
    }
    const y = await stranger(t, 'Outsider');
    const outside = await y.client.post(PATH, { client_id: client.client_id }, x.org.id);
    assert.ok([403, 404].includes(outside.statusCode), outside.body);
    // An owner who has not proven their address approves nothing.
    const unproven = t.client();
    const { org } = await unproven.signup({ verify: false });
    assertProblem(
      await unproven.post(PATH, { client_id: client.client_id }, org.id),
      403,
      'email_unverified',
    );
    const rows = await t.deps.db
      .selectFrom('oauth_client_approvals')
      .select('org_id')
      .where('client_id', '=', client.client_id)
      .execute();
    assert.deepEqual(rows, []);
  });

  it("approves the org's own apps and metadata-document clients, never another org's app", async () => {
    const own = await x.people.owner.client.post(
      '/api/v1/oauth/clients',
      { name: 'Own App', type: 'public', redirect_uris: [REDIRECT] },
      x.org.id,
    );
    assert.equal(own.statusCode, 201, own.body);
    assert.equal((await approve(own.json().client_id)).statusCode, 201);

    const y = await stranger(t, 'App Maker');
    const foreign = await y.client.post(
      '/api/v1/oauth/clients',
      { name: 'Foreign App', type: 'public', redirect_uris: [REDIRECT] },
      y.org.id,
    );
    assert.equal(foreign.statusCode, 201, foreign.body);
    assertProblem(await approve(foreign.json().client_id), 404, 'not_found');
    assertProblem(await approve('lkc_00000000000000000000000000000000'), 404, 'not_found');

    const doc = docs.serve('/approved.json', { client_name: 'Approved Document', redirect_uris: [REDIRECT] });
    const made = await approve(doc);
    assert.equal(made.statusCode, 201, made.body);
    assert.equal(made.json().client_kind, 'cimd');
  });

  it('withdrawing an approval brings the consent screen back; another org cannot withdraw it', async () => {
    const client = await register(t);
    const made = await approve(client.client_id);
    assert.equal(made.statusCode, 201);
    const y = await stranger(t, 'Withdrawer');
    assertProblem(await y.client.delete(`${PATH}/${made.json().id}`, y.org.id), 404, 'not_found');
    assert.equal(
      (await x.people.member.client.delete(`${PATH}/${made.json().id}`, x.org.id)).statusCode,
      403,
    );
    const del = await x.people.admin.client.delete(`${PATH}/${made.json().id}`, x.org.id);
    assert.equal(del.statusCode, 204, del.body);
    const fresh = await join(t, x.people.owner.client, x.org.id, 'member', 'Late Member');
    const page = await fresh.client.get(authorizeUrl({ clientId: client.client_id, scope: 'mcp:read' }));
    assert.equal(page.statusCode, 200, page.body);
    const events = await t.deps.db
      .selectFrom('audit_events')
      .select('action')
      .where('target', '=', `client:${client.client_id}`)
      .where('action', '=', 'oauth.client_approval_revoked')
      .execute();
    assert.equal(events.length, 1);
  });

  it('lists the tools each scope unlocks on the consent page when the resource declares them', async () => {
    const client = await register(t);
    const page = await x.people.member.client.get(
      authorizeUrl({ clientId: client.client_id, scope: 'mcp:read mcp:write mcp:act' }),
    );
    assert.equal(page.statusCode, 200, page.body);
    assert.match(
      page.body,
      /<code>mcp:read<\/code>[^<]*<br><span class="muted tools">Tools: <code>list_notes<\/code>, <code>read_note<\/code>/,
    );
    assert.match(page.body, /<code>mcp:act<\/code>[\s\S]*?Tools: <code>send_email<\/code>/);
    // A scope with no tools declared lists none.
    assert.doesNotMatch(page.body, /<code>mcp:write<\/code>[^\n]*Tools:/);
  });
});
