import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestServer, testServer } from '../helpers/harness.js';
import {
  authorizeUrl,
  consent,
  form,
  MCP_URL,
  OAUTH_TOML,
  pkce,
  REDIRECT,
  tokensFor,
  workerApp,
} from './helpers.js';

/**
 * What the token endpoint asks of the database: a code exchange and a refresh rotation are each
 * one statement (the rule, the tokens and the audit event together), and so is a
 * client-credentials grant once the client is known. A change that adds a round trip to a grant shows here first.
 */
let t: TestServer;
before(async () => {
  t = await testServer({ toml: OAUTH_TOML });
});
after(() => t.close());

/** Statements naming the tables a grant could read or write while `fn` runs (background work names none). */
async function statementsOf(fn: () => Promise<void>): Promise<number> {
  const before = t.queries.count;
  await fn();
  return t.queries.touching(before, [
    'oauth_codes',
    'oauth_tokens',
    'oauth_clients',
    'oauth_grants',
    'audit_events',
    'users',
    'orgs',
    'memberships',
  ]);
}

describe('statements per grant', () => {
  it('a code exchange is one statement; so is each rotation of its refresh token', async () => {
    const browser = t.client();
    await browser.signup();
    // A first exchange warms the client's cache entry, as on a running server.
    const first = await tokensFor(t, browser);

    let refresh = first.tokens.refresh_token!;
    const rotate = async () => {
      const res = await form(t, '/api/oauth/token', {
        grant_type: 'refresh_token',
        refresh_token: refresh,
        client_id: first.client.client_id,
      });
      assert.equal(res.statusCode, 200, res.body);
      refresh = (res.json() as { refresh_token: string }).refresh_token;
    };
    assert.equal(await statementsOf(rotate), 1, 'a rotation');
    assert.equal(await statementsOf(rotate), 1, 'the next rotation');

    const p = pkce();
    const back = await consent(
      browser,
      authorizeUrl({ clientId: first.client.client_id, challenge: p.challenge }),
    );
    const code = back.searchParams.get('code')!;
    const exchange = async () => {
      const res = await form(t, '/api/oauth/token', {
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT,
        code_verifier: p.verifier,
        client_id: first.client.client_id,
        resource: MCP_URL,
      });
      assert.equal(res.statusCode, 200, res.body);
    };
    assert.equal(await statementsOf(exchange), 1, 'an exchange');
  });

  it('a client-credentials grant is one statement', async () => {
    const { basic } = await workerApp(t);
    const grant = async () => {
      const r = await form(
        t,
        '/api/oauth/token',
        { grant_type: 'client_credentials', resource: MCP_URL, scope: 'mcp:read' },
        { basic },
      );
      assert.equal(r.statusCode, 200, r.body);
    };
    await grant();
    assert.equal(await statementsOf(grant), 1);
  });
});
