import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { type TestServer, testServer } from '../helpers/harness.js';
import { issueTokens } from '../../src/oauth/store/tokens.js';
import { MCP_URL, OAUTH_TOML, workerApp } from './helpers.js';

// Concurrent client-credentials issues share one run of the issuing statement (group commit,
// `executeRows`): each row is checked against its own app's stored version, so an app changed
// behind the node's cache gets nothing while the others in the same run are issued, and each
// caller hears only about its own row.
describe('issuing statement shared by concurrent grants', () => {
  let t: TestServer;
  before(async () => {
    t = await testServer({ toml: OAUTH_TOML });
  });
  after(() => t.close());

  it('writes the rows of current apps and none of a changed app, each caller answered its own', async () => {
    const stale = await workerApp(t);
    const current = await workerApp(t);
    const versions = async () => {
      const { rows } = await sql<{ id: string; org_id: string; version: string }>`
        select id, org_id, xmin::text as version from oauth_clients
        where id in (${stale.app.client_id}, ${current.app.client_id})`.execute(t.deps.db);
      return new Map(rows.map((r) => [r.id, r]));
    };
    const before = await versions();
    // The stale app's row changes after its version was read, as a secret rotated on another node.
    await sql`update oauth_clients set name = 'Renamed' where id = ${stale.app.client_id}`.execute(t.deps.db);

    const issue = (clientId: string) => {
      const row = before.get(clientId)!;
      return issueTokens(
        t.deps.storage.db,
        t.deps.clock,
        { actor: `client:${clientId}`, ip: null, userAgent: null },
        {
          grantType: 'client_credentials',
          subject: {
            clientId,
            grantId: null,
            userId: null,
            orgId: row.org_id,
            resource: MCP_URL,
            scopes: ['mcp:read'],
          },
          refresh: false,
          tokenPrefix: 'lk',
          clientVersion: row.version,
        },
      );
    };
    const ids = Array.from({ length: 12 }, (_, i) => (i % 3 === 1 ? stale : current).app.client_id);
    const issued = await Promise.all(ids.map(issue));
    assert.deepEqual(
      issued.map((r) => r !== null),
      ids.map((id) => id === current.app.client_id),
    );
    const { rows } = await sql<{ client_id: string; prefix: string }>`
      select client_id, prefix from oauth_tokens where client_id in (${stale.app.client_id}, ${current.app.client_id})`.execute(
      t.deps.db,
    );
    assert.deepEqual(
      rows.map((r) => r.client_id),
      Array(8).fill(current.app.client_id),
    );
    // Each caller's answer names a token that was written, once.
    assert.deepEqual(
      rows.map((r) => r.prefix).sort(),
      issued
        .filter((r) => r !== null)
        .map((r) => r.accessPrefix)
        .sort(),
    );
    const { rows: events } = await sql<{ target: string }>`
      select target from audit_events where action = 'oauth.token_issued'
        and target in (${`client:${stale.app.client_id}`}, ${`client:${current.app.client_id}`})`.execute(
      t.deps.db,
    );
    assert.deepEqual(
      events.map((e) => e.target),
      Array(8).fill(`client:${current.app.client_id}`),
    );
  });
});
