import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { type Client, PUBLIC_URL, type TestServer, testServer } from '../../helpers/harness.js';
import { form, MCP_ID, MCP_SECRET, MCP_URL, OAUTH_TOML, tokensFor } from '../helpers.js';

/** RFC 9068 access tokens for a resource configured with token_format = "jwt". */
describe('JWT access tokens', () => {
  let t: TestServer;
  let browser: Client;
  let person: Awaited<ReturnType<Client['signup']>>;
  before(async () => {
    t = await testServer({
      toml: OAUTH_TOML.replace(`secret = "${MCP_SECRET}"`, `secret = "${MCP_SECRET}"\ntoken_format = "jwt"`),
    });
    browser = t.client();
    person = await browser.signup();
  });
  after(async () => t?.close());

  const introspect = (token: string) =>
    form(t, '/api/oauth/introspect', { token }, { basic: [MCP_ID, MCP_SECRET] });

  it('is a signed at+jwt for the resource; introspection answers; revocation ends it and publishes its jti', async () => {
    const { client, tokens } = await tokensFor(t, browser, { scope: 'mcp:read' });
    const jwt = tokens.access_token as string;
    assert.equal(decodeProtectedHeader(jwt).typ, 'at+jwt');
    const jwks = (await t.client().get('/.well-known/jwks.json')).json() as { keys: [] };
    const { payload } = await jwtVerify(jwt, createLocalJWKSet(jwks), {
      issuer: PUBLIC_URL,
      audience: MCP_URL,
      typ: 'at+jwt',
    });
    assert.equal(payload.sub, person.user.id);
    assert.equal(payload.client_id, client.client_id);
    assert.equal(payload.scope, 'mcp:read');
    assert.equal(payload.org_id, person.org.id);
    assert.match(String(payload.jti), /^[0-9a-f]{64}$/);
    assert.equal((payload.exp as number) - (payload.iat as number), 3600);

    const live = (await introspect(jwt)).json() as { active: boolean; aud: string; sub: string };
    assert.equal(live.active, true);
    assert.equal(live.aud, MCP_URL);
    assert.equal(live.sub, person.user.id);

    const revoked = await form(t, '/api/oauth/revoke', { token: jwt, client_id: client.client_id });
    assert.equal(revoked.statusCode, 200);
    assert.equal(((await introspect(jwt)).json() as { active: boolean }).active, false);
    const events = await t.deps.db
      .selectFrom('revocation_events')
      .select('value')
      .where('kind', '=', 'token')
      .where('value', '=', String(payload.jti))
      .execute();
    assert.equal(events.length, 1, 'the stream carries the jti');
  });

  it('a refreshed token is a JWT too; a forged or other-issuer JWT introspects inactive', async () => {
    const { client, tokens } = await tokensFor(t, browser, { scope: 'mcp:read' });
    const res = await form(t, '/api/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token as string,
      client_id: client.client_id,
    });
    assert.equal(res.statusCode, 200, res.body);
    const fresh = (res.json() as { access_token: string }).access_token;
    assert.equal(decodeProtectedHeader(fresh).typ, 'at+jwt');
    const [h, p] = fresh.split('.');
    const forged = `${h}.${p}.${Buffer.from('not a signature').toString('base64url')}`;
    assert.equal(((await introspect(forged)).json() as { active: boolean }).active, false);
  });

  it("Latchkey's own API keeps opaque tokens", async () => {
    const { tokens } = await tokensFor(t, browser, { resource: `${PUBLIC_URL}/api`, scope: 'org:read' });
    assert.match(tokens.access_token as string, /^lk_at_/);
  });
});
