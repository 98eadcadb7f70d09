import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestServer, testServer } from '../helpers/harness.js';
import { mintPat } from '../tokens/helpers.js';
import {
  authorizeUrl,
  consent,
  form,
  introspect,
  MCP_ID,
  MCP_SECRET,
  MCP_URL,
  OAUTH_TOML,
  OTHER_ID,
  OTHER_SECRET,
  pkce,
  REDIRECT,
  register,
  tokensFor,
} from './helpers.js';

const OPEN_ID = 'api-token-mcp';
const OPEN_URL = 'https://tools.example.com/mcp';
const OPEN_SECRET = 'api-token-resource-secret-0123456789ab';

const TOML = `${OAUTH_TOML}
[[resources]]
id = "${OPEN_ID}"
url = "${OPEN_URL}"
name = "Tools MCP"
secret = "${OPEN_SECRET}"
accept_api_tokens = true
`;

describe('introspection of Latchkey API tokens (resources with accept_api_tokens)', () => {
  let t: TestServer;
  before(async () => {
    t = await testServer({ toml: TOML });
  });
  after(() => t.close());

  it('answers a PAT as its person, with the resource as audience and the scopes it holds there', async () => {
    const c = t.client();
    const { user } = await c.signup();
    const pat = await mintPat(c, {
      name: 'laptop',
      scopes: ['org:read', 'mcp:read', 'mcp:write'],
      never_expires: true,
    });
    const res = await introspect(t, pat.token, [OPEN_ID, OPEN_SECRET]);
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.active, true);
    assert.equal(body.token_kind, 'pat');
    assert.equal(body.sub, user.id);
    assert.deepEqual([body.email, body.name], [user.email, user.name], 'the resource can greet its person');
    assert.equal(body.org_id, null);
    assert.equal(body.aud, OPEN_URL);
    assert.equal(body.exp, undefined, 'a token without expiry has no exp');
    // The resource's scopes among the token's: never more.
    assert.deepEqual(String(body.scope).split(' ').sort(), ['mcp:read', 'mcp:write']);
  });

  it('answers a service token with its org, and an expiring token with exp', async () => {
    const c = t.client();
    const { org } = await c.signup();
    const svc = await mintPat(c, { name: 'ci', type: 'svc', expires_in: 3600, scopes: ['mcp:read'] }, org.id);
    const body = (await introspect(t, svc.token, [OPEN_ID, OPEN_SECRET])).json();
    assert.equal(body.active, true);
    assert.equal(body.token_kind, 'svc');
    assert.equal(body.org_id, org.id);
    assert.match(String(body.sub), /^svc:/);
    assert.deepEqual([body.email, body.name], [undefined, undefined], 'a service token has no person');
    assert.equal(typeof body.exp, 'number');
  });

  it('is inactive to resources that do not accept API tokens, and once revoked', async () => {
    const c = t.client();
    await c.signup();
    const pat = await mintPat(c, { scopes: ['mcp:read'] });
    assert.deepEqual((await introspect(t, pat.token)).json(), { active: false });
    assert.deepEqual((await introspect(t, pat.token, [OTHER_ID, OTHER_SECRET])).json(), { active: false });
    assert.equal((await introspect(t, pat.token, [OPEN_ID, OPEN_SECRET])).json().active, true);
    assert.equal((await c.delete(`/api/v1/tokens/${pat.id}`)).statusCode, 204);
    assert.deepEqual((await introspect(t, pat.token, [OPEN_ID, OPEN_SECRET])).json(), { active: false });
  });

  it('is inactive for a token minted with scopes none of which the resource has, or with none named', async () => {
    const c = t.client();
    await c.signup();
    const narrow = await mintPat(c, { scopes: ['org:read'] });
    assert.deepEqual((await introspect(t, narrow.token, [OPEN_ID, OPEN_SECRET])).json(), { active: false });
    // A token minted without scopes holds org:read only, so no resource's scopes either.
    const plain = await c.post('/api/v1/tokens', {});
    assert.equal(plain.statusCode, 201, plain.body);
    assert.deepEqual((await introspect(t, plain.json().token, [OPEN_ID, OPEN_SECRET])).json(), {
      active: false,
    });
  });

  it('still answers OAuth tokens, marked token_kind oauth, and refuses a malformed token', async () => {
    const c = t.client();
    await c.signup();
    const { tokens } = await tokensFor(t, c);
    const oauth = (await introspect(t, tokens.access_token, [MCP_ID, MCP_SECRET])).json();
    assert.equal(oauth.active, true);
    assert.equal(oauth.token_kind, 'oauth');
    assert.equal(oauth.aud, MCP_URL);
    const me = (await c.get('/api/v1/me')).json().user as { email: string; name: string };
    assert.deepEqual([oauth.email, oauth.name], [me.email, me.name]);
    const pat = await mintPat(c, {});
    const broken = `${pat.token.slice(0, -1)}${pat.token.endsWith('a') ? 'b' : 'a'}`;
    assert.deepEqual((await introspect(t, broken, [OPEN_ID, OPEN_SECRET])).json(), { active: false });
  });

  it('refuses accept_api_tokens on a resource without a secret, naming the setting', async () => {
    await assert.rejects(
      testServer({
        toml: `[[resources]]\nid = "x"\nurl = "https://x.example.com/"\naccept_api_tokens = true\n`,
      }),
      /resources\[0\]\.accept_api_tokens/,
    );
  });

  it('a confidential client introspecting its own token learns nothing of the person (no email, no name)', async () => {
    const c = t.client();
    await c.signup();
    const client = await register(t, { token_endpoint_auth_method: 'client_secret_post' });
    const p = pkce();
    const back = await consent(c, authorizeUrl({ clientId: client.client_id, challenge: p.challenge }));
    const token = await form(t, '/api/oauth/token', {
      grant_type: 'authorization_code',
      code: back.searchParams.get('code')!,
      redirect_uri: REDIRECT,
      code_verifier: p.verifier,
      client_id: client.client_id,
      client_secret: client.client_secret!,
      resource: MCP_URL,
    });
    assert.equal(token.statusCode, 200, token.body);
    const own = await form(t, '/api/oauth/introspect', {
      token: token.json().access_token,
      client_id: client.client_id,
      client_secret: client.client_secret!,
    });
    assert.equal(own.json().active, true, own.body);
    assert.deepEqual([own.json().email, own.json().name], [undefined, undefined]);
    // The resource it is for does see them.
    const atResource = (await introspect(t, token.json().access_token, [MCP_ID, MCP_SECRET])).json();
    assert.equal(typeof atResource.email, 'string');
  });
});
