import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type TestServer, testServer } from '../helpers/harness.js';
import { hashToken } from '../../src/tokens/format.js';
import { form, MCP_URL, OAUTH_TOML, tokensFor, workerApp } from './helpers.js';

/**
 * What an OAuth token row may name, and what takes it away: a token issued for a person's consent
 * names the consent, its client, person and org as one key of the consent; a client-credentials
 * token names its app alone. Deleting any of them deletes the tokens.
 */
describe('OAuth token keys', () => {
  let t: TestServer;
  before(async () => {
    t = await testServer({ toml: OAUTH_TOML });
  });
  after(() => t.close());

  const rowOf = (token: string) =>
    t.deps.db
      .selectFrom('oauth_tokens')
      .selectAll()
      .where('token_hash', '=', hashToken(token))
      .executeTakeFirst();

  async function consented() {
    const browser = t.client();
    const me = await browser.signup();
    const { tokens } = await tokensFor(t, browser);
    const row = (await rowOf(tokens.access_token))!;
    assert.ok(row.grant_id && row.user_id);
    return { me, tokens, row };
  }

  async function appToken() {
    const { org, app, basic } = await workerApp(t);
    const issued = await form(
      t,
      '/api/oauth/token',
      { grant_type: 'client_credentials', resource: MCP_URL, scope: 'mcp:read' },
      { basic },
    );
    assert.equal(issued.statusCode, 200, issued.body);
    const row = (await rowOf(issued.json().access_token))!;
    assert.equal(row.grant_id, null);
    assert.equal(row.user_id, null);
    assert.equal(row.org_id, org.id, "the app's org");
    return { org, app, row };
  }

  /** Inserts a copy of `row` with `change` applied; resolves to the database's refusal, if any. */
  async function copyWith(row: Record<string, unknown>, change: Record<string, unknown>) {
    const copy = {
      ...row,
      id: randomUUID(),
      token_hash: randomUUID(),
      scopes: JSON.stringify(row.scopes),
      ...change,
    } as never;
    try {
      await t.deps.db.insertInto('oauth_tokens').values(copy).execute();
      return null;
    } catch (err) {
      return err as { code?: string };
    }
  }

  it("refuses a token whose person, org or client is not its consent's, or a person without a consent", async () => {
    const a = await consented();
    const b = await consented();
    assert.equal(await copyWith(a.row, {}), null, 'a faithful copy is accepted');
    assert.equal((await copyWith(a.row, { user_id: b.row.user_id }))?.code, '23503', "another person's");
    assert.equal((await copyWith(a.row, { org_id: b.row.org_id }))?.code, '23503', "another org's");
    assert.equal((await copyWith(a.row, { client_id: b.row.client_id }))?.code, '23503', "another client's");
    assert.equal((await copyWith(a.row, { grant_id: null }))?.code, '23514', 'a person without a consent');
    assert.equal((await copyWith(a.row, { user_id: null }))?.code, '23514', 'a consent without a person');
    const app = await appToken();
    assert.equal((await copyWith(app.row, { client_id: 'no-such-client' }))?.code, '23503');
  });

  it('deletes the tokens of a deleted person, org, app or consent', async () => {
    const gone = async (row: { id: string }) =>
      (await t.deps.db
        .selectFrom('oauth_tokens')
        .select('id')
        .where('id', '=', row.id)
        .executeTakeFirst()) === undefined;

    const person = await consented();
    await t.deps.db.deleteFrom('users').where('id', '=', person.row.user_id!).execute();
    assert.ok(await gone(person.row), "a deleted person's tokens");

    const member = await consented();
    await t.deps.db.deleteFrom('orgs').where('id', '=', member.row.org_id).execute();
    assert.ok(await gone(member.row), "a deleted org's tokens");

    const consent = await consented();
    await t.deps.db.deleteFrom('oauth_grants').where('id', '=', consent.row.grant_id!).execute();
    assert.ok(await gone(consent.row), "a deleted consent's tokens");

    const app = await appToken();
    await t.deps.db.deleteFrom('oauth_clients').where('id', '=', app.app.client_id).execute();
    assert.ok(await gone(app.row), "a deleted app's tokens");

    const appOfOrg = await appToken();
    await t.deps.db.deleteFrom('orgs').where('id', '=', appOfOrg.org.id).execute();
    assert.ok(await gone(appOfOrg.row), "the tokens of a deleted org's app");
  });
});
