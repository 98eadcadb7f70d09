import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestServer, testServer } from '../helpers/harness.js';
import {
  authorizeUrl,
  consent,
  form,
  introspect,
  MCP_URL,
  OAUTH_TOML,
  pkce,
  REDIRECT,
  tokensFor,
} from './helpers.js';

interface App {
  id: string;
  client_id: string;
  client_secret?: string;
  type: string;
  scopes: string[] | null;
  grant_types: string[];
}

describe('org OAuth apps', () => {
  let t: TestServer;
  before(async () => {
    t = await testServer({ toml: OAUTH_TOML });
  });
  after(() => t.close());

  it("shows a confidential app's secret once; lists never include it; rotation replaces it at once", async () => {
    const owner = t.client();
    const { org } = await owner.signup();
    const res = await owner.post(
      '/api/v1/oauth/clients',
      { name: 'CI', type: 'confidential', redirect_uris: [REDIRECT] },
      org.id,
    );
    assert.equal(res.statusCode, 201, res.body);
    const app = res.json() as App;
    assert.match(app.client_id, /^lkc_[0-9a-f]{32}$/);
    assert.ok(app.client_secret && app.client_secret.length >= 40);
    const list = await owner.get('/api/v1/oauth/clients', org.id);
    assert.equal(list.statusCode, 200);
    assert.equal(list.json().data.length, 1);
    assert.equal(list.json().data[0].client_secret, undefined);
    assert.doesNotMatch(list.body, new RegExp(app.client_secret!));

    const rotated = await owner.post(`/api/v1/oauth/clients/${app.id}/secret`, undefined, org.id);
    assert.equal(rotated.statusCode, 200, rotated.body);
    const fresh = rotated.json().client_secret as string;
    assert.notEqual(fresh, app.client_secret);
    const old = await form(
      t,
      '/api/oauth/introspect',
      { token: 'x' },
      { basic: [app.client_id, app.client_secret!] },
    );
    assert.equal(old.statusCode, 401);
    assert.equal(old.json().error, 'invalid_client');
    const ok = await form(t, '/api/oauth/introspect', { token: 'x' }, { basic: [app.client_id, fresh] });
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(ok.json(), { active: false });
  });

  it('refuses bad app metadata with a problem naming the OAuth error', async () => {
    const owner = t.client();
    const { org } = await owner.signup();
    for (const body of [
      { name: 'x', type: 'public', redirect_uris: ['http://evil.example/cb'] },
      { name: 'x', type: 'public', redirect_uris: ['https://ok.example/cb#frag'] },
      { name: 'x', type: 'public', redirect_uris: [REDIRECT], scopes: ['no:such'] },
      { name: 'x', type: 'public', redirect_uris: [REDIRECT], grant_types: ['client_credentials'] },
    ]) {
      const res = await owner.post('/api/v1/oauth/clients', body, org.id);
      assert.equal(res.statusCode, 400, JSON.stringify(body));
      assert.equal(res.json().code, 'invalid_request');
      assert.match(res.json().error, /^invalid_(redirect_uri|client_metadata)$/);
    }
  });

  it('issues client_credentials tokens to a confidential app within its scopes, and deleting the app revokes them', async () => {
    const owner = t.client();
    const { org } = await owner.signup();
    const res = await owner.post(
      '/api/v1/oauth/clients',
      {
        name: 'Worker',
        type: 'confidential',
        grant_types: ['client_credentials'],
        scopes: ['mcp:read', 'mcp:run'],
      },
      org.id,
    );
    assert.equal(res.statusCode, 201, res.body);
    const app = res.json() as App;
    const basic: [string, string] = [app.client_id, app.client_secret!];
    const wide = await form(
      t,
      '/api/oauth/token',
      { grant_type: 'client_credentials', resource: MCP_URL, scope: 'mcp:act' },
      { basic },
    );
    assert.equal(wide.json().error, 'invalid_scope');
    const noResource = await form(t, '/api/oauth/token', { grant_type: 'client_credentials' }, { basic });
    assert.equal(noResource.json().error, 'invalid_target');
    const tok = await form(
      t,
      '/api/oauth/token',
      { grant_type: 'client_credentials', resource: MCP_URL },
      { basic },
    );
    assert.equal(tok.statusCode, 200, tok.body);
    const body = tok.json();
    assert.equal(body.refresh_token, undefined);
    assert.equal(body.scope, 'mcp:read mcp:run');
    const info = (await introspect(t, body.access_token)).json();
    assert.equal(info.active, true);
    assert.equal(info.org_id, org.id);
    assert.equal(info.sub, app.client_id);
    // The access token is no client credential: presented as one, it is refused, and nothing issued.
    const asClient = await t.app.inject({
      method: 'POST',
      url: '/api/oauth/token',
      headers: {
        authorization: `Bearer ${body.access_token}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      payload: new URLSearchParams({ grant_type: 'client_credentials', resource: MCP_URL }).toString(),
    });
    assert.equal(asClient.statusCode, 401, asClient.body);
    assert.equal(asClient.json().error, 'invalid_client');
    // One access token row acting as the app (no grant, no person), and one audit event naming it.
    const rows = await t.deps.db
      .selectFrom('oauth_tokens')
      .selectAll()
      .where('client_id', '=', app.client_id)
      .execute();
    assert.equal(rows.length, 1);
    const row = rows[0]!;
    assert.equal(row.kind, 'at');
    assert.equal(row.grant_id, null);
    assert.equal(row.user_id, null);
    assert.equal(row.org_id, org.id);
    assert.equal(row.resource, MCP_URL);
    assert.deepEqual(row.scopes, ['mcp:read', 'mcp:run']);
    assert.ok(body.access_token.startsWith(row.prefix));
    assert.equal(row.expires_at.getTime() - row.created_at.getTime(), body.expires_in * 1000);
    const issuedEvents = await t.deps.db
      .selectFrom('audit_events')
      .selectAll()
      .where('org_id', '=', org.id)
      .where('action', '=', 'oauth.token_issued')
      .execute();
    assert.equal(issuedEvents.length, 1);
    const event = issuedEvents[0]!;
    assert.equal(event.actor, `client:${app.client_id}`);
    assert.equal(event.target, `client:${app.client_id}`);
    assert.equal(event.subject_user_id, null);
    assert.equal(event.created_at.getTime(), row.created_at.getTime());
    assert.deepEqual(event.data, {
      client_id: app.client_id,
      grant_type: 'client_credentials',
      user_id: null,
      resource: MCP_URL,
      scopes: ['mcp:read', 'mcp:run'],
      access_token: row.prefix,
      refresh_token: null,
    });

    const del = await owner.delete(`/api/v1/oauth/clients/${app.id}`, org.id);
    assert.equal(del.statusCode, 204);
    assert.deepEqual((await introspect(t, body.access_token)).json(), { active: false });
    assert.equal((await owner.get(`/api/v1/oauth/clients/${app.id}`, org.id)).statusCode, 404);
    const audit = await t.deps.db
      .selectFrom('audit_events')
      .select('action')
      .where('org_id', '=', org.id)
      .execute();
    const actions = audit.map((a) => a.action);
    for (const a of ['oauth.client_created', 'oauth.token_issued', 'oauth.client_deleted'])
      assert.ok(actions.includes(a), a);
  });

  it("lets only members of the app's org authorise it", async () => {
    const owner = t.client();
    const { org } = await owner.signup();
    const res = await owner.post(
      '/api/v1/oauth/clients',
      { name: 'Internal', type: 'public', redirect_uris: [REDIRECT] },
      org.id,
    );
    const app = res.json() as App;
    const outsider = t.client();
    await outsider.signup();
    const page = await outsider.get(authorizeUrl({ clientId: app.client_id }));
    assert.equal(page.statusCode, 303);
    const back = new URL(page.headers.location as string);
    assert.equal(back.searchParams.get('error'), 'access_denied');
    const mine = await consent(owner, authorizeUrl({ clientId: app.client_id, challenge: pkce().challenge }));
    assert.ok(mine.searchParams.get('code'));
  });
});

describe("people's grants", () => {
  let t: TestServer;
  before(async () => {
    t = await testServer({ toml: OAUTH_TOML });
  });
  after(() => t.close());

  it("lists the apps a person authorised and revokes a grant's tokens at once", async () => {
    const browser = t.client();
    const { org } = await browser.signup();
    const { client, tokens } = await tokensFor(t, browser);
    const list = await browser.get('/api/v1/me/grants');
    assert.equal(list.statusCode, 200);
    const grants = list.json().data as {
      id: string;
      client_id: string;
      org_id: string;
      resource: string;
      scopes: string[];
    }[];
    assert.equal(grants.length, 1);
    assert.equal(grants[0]!.client_id, client.client_id);
    assert.equal(grants[0]!.org_id, org.id);
    assert.equal(grants[0]!.resource, MCP_URL);

    // Another person cannot see or revoke it.
    const other = t.client();
    await other.signup();
    assert.equal((await other.get('/api/v1/me/grants')).json().data.length, 0);
    assert.equal((await other.delete(`/api/v1/me/grants/${grants[0]!.id}`)).statusCode, 404);

    // The org admin sees it.
    const orgList = await browser.get('/api/v1/org/grants', org.id);
    assert.equal(orgList.json().data.length, 1);

    const del = await browser.delete(`/api/v1/me/grants/${grants[0]!.id}`);
    assert.equal(del.statusCode, 204);
    assert.deepEqual((await introspect(t, tokens.access_token)).json(), { active: false });
    const refresh = await form(t, '/api/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token!,
      client_id: client.client_id,
    });
    assert.equal(refresh.json().error, 'invalid_grant');
    assert.equal((await browser.get('/api/v1/me/grants')).json().data.length, 0);
  });

  it('remembers consent: the same request later skips the page; a wider one asks again', async () => {
    const browser = t.client();
    await browser.signup();
    const { client } = await tokensFor(t, browser, { scope: 'mcp:read' });
    const again = await browser.get(authorizeUrl({ clientId: client.client_id, scope: 'mcp:read' }));
    assert.equal(again.statusCode, 303);
    assert.ok(new URL(again.headers.location as string).searchParams.get('code'));
    const wider = await browser.get(
      authorizeUrl({ clientId: client.client_id, scope: 'mcp:read mcp:write' }),
    );
    assert.equal(wider.statusCode, 200);
    const forced = await browser.get(
      authorizeUrl({ clientId: client.client_id, scope: 'mcp:read', extra: { prompt: 'consent' } }),
    );
    assert.equal(forced.statusCode, 200);
  });

  it("stops a person's tokens when they leave the org", async () => {
    const owner = t.client();
    const { org } = await owner.signup();
    const inv = await owner.post(
      '/api/v1/org/invitations',
      { email: 'leaver-oauth@example.com', role: 'member' },
      org.id,
    );
    assert.equal(inv.statusCode, 201);
    const { lastMailTo, linkIn, tokenFrom, PUBLIC_URL } = await import('../helpers/harness.js');
    const token = tokenFrom(
      linkIn((await lastMailTo(t.outboxDir, 'leaver-oauth@example.com')).text, `${PUBLIC_URL}/invite`),
    );
    const member = t.client();
    const { user } = await member.signup({ email: 'leaver-oauth@example.com' });
    assert.equal((await member.post('/api/v1/invitations/accept', { token })).statusCode, 200);
    const { tokens } = await tokensFor(t, member, { org: org.id });
    assert.equal((await introspect(t, tokens.access_token)).json().org_id, org.id);
    assert.equal((await owner.delete(`/api/v1/org/members/${user.id}`, org.id)).statusCode, 204);
    assert.deepEqual((await introspect(t, tokens.access_token)).json(), { active: false });
  });

  it('an app registered as an OpenID relying party shows its registration on create, read, list and update; a bad one changes nothing', async () => {
    const owner = t.client();
    const { org } = await owner.signup();
    const logout = 'https://rp.example.com/signed-out';
    const res = await owner.post(
      '/api/v1/oauth/clients',
      {
        name: 'Web app',
        type: 'confidential',
        redirect_uris: [REDIRECT],
        post_logout_redirect_uris: [logout],
        id_token_signed_response_alg: 'RS256',
      },
      org.id,
    );
    assert.equal(res.statusCode, 201, res.body);
    const app = res.json() as App & {
      post_logout_redirect_uris: string[];
      id_token_signed_response_alg: string;
    };
    const rp = { post_logout_redirect_uris: [logout], id_token_signed_response_alg: 'RS256' };
    assert.deepEqual(
      {
        post_logout_redirect_uris: app.post_logout_redirect_uris,
        id_token_signed_response_alg: app.id_token_signed_response_alg,
      },
      rp,
    );
    const one = (await owner.get(`/api/v1/oauth/clients/${app.id}`, org.id)).json();
    assert.deepEqual([one.post_logout_redirect_uris, one.id_token_signed_response_alg], [[logout], 'RS256']);
    const listed = (await owner.get('/api/v1/oauth/clients', org.id)).json().data as Record<
      string,
      unknown
    >[];
    const row = listed.find((a) => a.id === app.id)!;
    assert.deepEqual([row.post_logout_redirect_uris, row.id_token_signed_response_alg], [[logout], 'RS256']);

    // An off-loopback http logout URI and an unknown algorithm are refused; the app is unchanged.
    for (const bad of [
      { post_logout_redirect_uris: ['http://rp.example.com/out'] },
      { id_token_signed_response_alg: 'none' },
    ]) {
      const r = await owner.patch(`/api/v1/oauth/clients/${app.id}`, bad, org.id);
      assert.equal(r.statusCode, 400, r.body);
    }
    const after = (await owner.get(`/api/v1/oauth/clients/${app.id}`, org.id)).json();
    assert.deepEqual(
      [after.post_logout_redirect_uris, after.id_token_signed_response_alg],
      [[logout], 'RS256'],
    );

    const changed = await owner.patch(
      `/api/v1/oauth/clients/${app.id}`,
      { id_token_signed_response_alg: 'ES256' },
      org.id,
    );
    assert.equal(changed.statusCode, 200, changed.body);
    assert.deepEqual(
      [changed.json().post_logout_redirect_uris, changed.json().id_token_signed_response_alg],
      [[logout], 'ES256'],
    );
  });
});
