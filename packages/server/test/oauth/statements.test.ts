import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RootOperationNode, sql } from 'kysely';
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

/**
 * The plan a grant's statement gets when it is planned once for any value, as the embedded database
 * plans every prepared statement (and PostgreSQL may): the rows of its JSON array are then
 * estimated at a hundred, and a lookup written as a join or an `exists` can become a scan of the
 * whole table, hashed, on every execution. On an empty database (the planner's default estimates)
 * every table must still be read by index or by TID.
 */
async function genericPlan(node: unknown): Promise<string> {
  const { sql: text } = t.deps.db.getExecutor().compileQuery(node as RootOperationNode, { queryId: 'plan' });
  return t.deps.db.transaction().execute(async (trx) => {
    await sql`set local plan_cache_mode = force_generic_plan`.execute(trx);
    await sql.raw(`prepare lk_plan_check(text) as ${text}`).execute(trx);
    const { rows } = await sql
      .raw<Record<string, string>>(`explain execute lk_plan_check('[]')`)
      .execute(trx);
    await sql.raw('deallocate lk_plan_check').execute(trx);
    return rows.map((r) => Object.values(r)[0]).join('\n');
  });
}

/** How the plan reads each table: `[scan, table]` pairs. */
const scans = (plan: string) =>
  [
    ...plan.matchAll(
      /(Seq|Bitmap Heap|Tid Range|Tid|Index Only|Index|Sample) Scan(?: Backward)?(?: using \S+)? on (\w+)/g,
    ),
  ].map((m) => [m[1]!, m[2]!] as const);

describe('the grants read every table by index, whatever the estimate', () => {
  it('code exchange, rotation and client credentials', async () => {
    const browser = t.client();
    await browser.signup();
    let since = t.queries.count;
    const first = await tokensFor(t, browser);
    const exchange = t.queries.nodesTouching(since, 'oauth_codes').at(-1);
    since = t.queries.count;
    const res = await form(t, '/api/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: first.tokens.refresh_token!,
      client_id: first.client.client_id,
    });
    assert.equal(res.statusCode, 200, res.body);
    const rotation = t.queries.nodesTouching(since, 'oauth_tokens').at(-1);
    const { basic } = await workerApp(t);
    since = t.queries.count;
    const cc = await form(
      t,
      '/api/oauth/token',
      { grant_type: 'client_credentials', resource: MCP_URL, scope: 'mcp:read' },
      { basic },
    );
    assert.equal(cc.statusCode, 200, cc.body);
    const clientCredentials = t.queries.nodesTouching(since, 'oauth_tokens').at(-1);

    for (const [name, node, tables] of [
      ['exchange', exchange, ['oauth_codes', 'oauth_grants']],
      ['rotation', rotation, ['oauth_tokens', 'memberships', 'users']],
      ['client credentials', clientCredentials, ['oauth_clients']],
    ] as const) {
      assert.ok(node, `${name}: its statement was seen`);
      const plan = await genericPlan(node);
      const read = scans(plan);
      for (const table of tables)
        assert.ok(
          read.some(([, t]) => t === table),
          `${name} reads ${table}:\n${plan}`,
        );
      for (const [scan, table] of read)
        assert.ok(
          ['Index', 'Index Only', 'Tid'].includes(scan),
          `${name}: ${scan} Scan on ${table}:\n${plan}`,
        );
      assert.doesNotMatch(plan, /hashed SubPlan/, `${name}:\n${plan}`);
    }
  });
});
