// test-backend: external — the shared change log (Redis) that the grant goes without
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { type TestServer, testServer } from '../helpers/harness.js';
import { sha256Hex } from '../../src/lib/secrets.js';
import { form, MCP_URL, OAUTH_TOML, workerApp } from './helpers.js';

// On nodes sharing a change log, a client_credentials grant trusts the node's cached app without
// reading the log first, and issues only to the app as it is stored when the token is written: the
// issuing statement compares the stored row's version with the one the request's checks read. Here
// the stored app is changed behind the node's back (no announcement reaches its cache), and the
// next grant must already see it.

const CC = { grant_type: 'client_credentials', resource: MCP_URL };

describe('client_credentials against the app as stored now', () => {
  let t: TestServer;
  before(async () => {
    t = await testServer({ toml: OAUTH_TOML });
  });
  after(() => t.close());

  const issuedTo = async (clientId: string) => {
    const tokens = await t.deps.db
      .selectFrom('oauth_tokens')
      .select('id')
      .where('client_id', '=', clientId)
      .execute();
    const events = await t.deps.db
      .selectFrom('audit_events')
      .select('id')
      .where('action', '=', 'oauth.token_issued')
      .where('target', '=', `client:${clientId}`)
      .execute();
    return { tokens: tokens.length, events: events.length };
  };

  /** The stored app changed without telling the node's cache (as a lost announcement would). */
  const behindTheCache = (clientId: string, set: Record<string, unknown>) =>
    t.deps.db.updateTable('oauth_clients').set(set).where('id', '=', clientId).execute();

  it('refuses the old secret and accepts the new one at once when the secret changed', async () => {
    const { app, basic } = await workerApp(t);
    assert.equal((await form(t, '/api/oauth/token', CC, { basic })).statusCode, 200);
    assert.deepEqual(await issuedTo(app.client_id), { tokens: 1, events: 1 });

    const secret = 'a-secret-set-behind-the-cache-0123456789abcdef';
    await behindTheCache(app.client_id, { secret_hash: sha256Hex(secret) });
    const old = await form(t, '/api/oauth/token', CC, { basic });
    assert.equal(old.statusCode, 401, old.body);
    assert.equal(old.json().error, 'invalid_client');
    assert.deepEqual(await issuedTo(app.client_id), { tokens: 1, events: 1 }, 'nothing written');

    const fresh = await form(t, '/api/oauth/token', CC, { basic: [app.client_id, secret] });
    assert.equal(fresh.statusCode, 200, fresh.body);
    assert.deepEqual(await issuedTo(app.client_id), { tokens: 2, events: 2 });
  });

  it('refuses an app whose client_credentials grant was taken away', async () => {
    const { app, basic } = await workerApp(t);
    assert.equal((await form(t, '/api/oauth/token', CC, { basic })).statusCode, 200);
    await behindTheCache(app.client_id, { grant_types: JSON.stringify(['authorization_code']) });
    const res = await form(t, '/api/oauth/token', CC, { basic });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().error, 'unauthorized_client');
    assert.deepEqual(await issuedTo(app.client_id), { tokens: 1, events: 1 });
  });

  it('issues within the scopes the app holds now', async () => {
    const { app, basic } = await workerApp(t);
    assert.equal((await form(t, '/api/oauth/token', CC, { basic })).json().scope, 'mcp:read');
    await behindTheCache(app.client_id, { scopes: JSON.stringify(['mcp:run']) });
    const narrowed = await form(t, '/api/oauth/token', CC, { basic });
    assert.equal(narrowed.statusCode, 200, narrowed.body);
    assert.equal(narrowed.json().scope, 'mcp:run');
    const asked = await form(t, '/api/oauth/token', { ...CC, scope: 'mcp:read' }, { basic });
    assert.equal(asked.json().error, 'invalid_scope');
  });

  it('answers from the app as announced when the cached one refused', async () => {
    const log = t.deps.cache.changeLog!;
    const { app, basic } = await workerApp(t);
    await behindTheCache(app.client_id, { grant_types: JSON.stringify(['authorization_code']) });
    // The node caches the app as it is now: without client_credentials.
    assert.equal((await form(t, '/api/oauth/token', CC, { basic })).json().error, 'unauthorized_client');
    // Another node allows it again and announces the change in the shared log only (this node's
    // subscription does not hear it): the grant refused by the cached app reads the log, then
    // answers from the app as stored.
    await behindTheCache(app.client_id, { grant_types: JSON.stringify(['client_credentials']) });
    await log.append('elsewhere', JSON.stringify({ client: app.client_id }));
    const res = await form(t, '/api/oauth/token', CC, { basic });
    assert.equal(res.statusCode, 200, res.body);
  });

  it('grants that commit together each check the app, and each is refused once it changed', async () => {
    const { app, basic } = await workerApp(t);
    const many = (auth: [string, string]) =>
      Promise.all(Array.from({ length: 20 }, () => form(t, '/api/oauth/token', CC, { basic: auth })));
    assert.equal((await form(t, '/api/oauth/token', CC, { basic })).statusCode, 200);
    assert.deepEqual(
      (await many(basic)).map((r) => r.statusCode),
      Array(20).fill(200),
    );
    assert.deepEqual(await issuedTo(app.client_id), { tokens: 21, events: 21 });
    const secret = 'another-secret-set-behind-the-cache-0123456789';
    await behindTheCache(app.client_id, { secret_hash: sha256Hex(secret) });
    assert.deepEqual(
      (await many(basic)).map((r) => r.statusCode),
      Array(20).fill(401),
    );
    assert.deepEqual(await issuedTo(app.client_id), { tokens: 21, events: 21 }, 'nothing written');
    assert.deepEqual(
      (await many([app.client_id, secret])).map((r) => r.statusCode),
      Array(20).fill(200),
    );
  });

  it('refuses an app that was deleted', async () => {
    const { app, basic } = await workerApp(t);
    assert.equal((await form(t, '/api/oauth/token', CC, { basic })).statusCode, 200);
    await sql`delete from oauth_clients where id = ${app.client_id}`.execute(t.deps.db);
    const res = await form(t, '/api/oauth/token', CC, { basic });
    assert.equal(res.statusCode, 401, res.body);
    assert.equal(res.json().error, 'invalid_client');
    assert.deepEqual(await issuedTo(app.client_id), { tokens: 0, events: 1 });
  });
});
