import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { executeGrouped } from '../../src/db/group-commit.js';
import { type TestServer, testServer } from '../helpers/harness.js';
import {
  authorizeUrl,
  consent,
  form,
  introspect,
  MCP_URL,
  OAUTH_TOML,
  OTHER_URL,
  pkce,
  REDIRECT,
  register,
  tokensFor,
} from './helpers.js';

/**
 * The code-exchange and rotation rules are each one statement that either issues (tokens and
 * their audit event together) or says why not. These drive every refusal through the token
 * endpoint and check what it answers and that a refusal writes nothing.
 */
let t: TestServer;
before(async () => {
  t = await testServer({ toml: OAUTH_TOML });
});
after(() => t.close());

async function codeFor(clientId: string, challenge: string) {
  const b = t.client();
  await b.signup();
  const back = await consent(b, authorizeUrl({ clientId, challenge }));
  const code = back.searchParams.get('code');
  assert.ok(code, back.href);
  return code;
}

/**
 * Runs `requests` while a long statement holds the database's group, so that their grants queue
 * behind it and commit as one group: the same code or token claimed by several statements of one
 * transaction. (An in-process embedded database runs the long statement on this thread, so there
 * they still come one after another; on PostgreSQL they share the group.)
 */
async function inOneGroup<T>(requests: () => Promise<T>): Promise<T> {
  const busy = executeGrouped(t.deps.db, sql`select count(*) from generate_series(1, 3000000)`);
  const out = await requests();
  await busy;
  return out;
}

const exchange = (clientId: string, code: string, verifier: string, extra: Record<string, string> = {}) =>
  form(t, '/api/oauth/token', {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT,
    client_id: clientId,
    resource: MCP_URL,
    code_verifier: verifier,
    ...extra,
  });

/** Tokens and token events (issued, refreshed, replayed) written for a client so far. */
async function written(clientId: string) {
  const tokens = await t.deps.db
    .selectFrom('oauth_tokens')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('client_id', '=', clientId)
    .executeTakeFirstOrThrow();
  const events = await t.deps.db
    .selectFrom('audit_events')
    .select(['action', 'data'])
    .where('target', '=', `client:${clientId}`)
    .where((eb) => eb.or([eb('action', 'like', 'oauth.token%'), eb('action', 'like', 'oauth.code%')]))
    .orderBy('id')
    .execute();
  return { tokens: Number(tokens.n), events };
}

function refused(res: { statusCode: number; body: string; json(): unknown }, error: string) {
  assert.equal(res.statusCode, 400, res.body);
  assert.equal((res.json() as { error: string }).error, error, res.body);
}

describe('authorization code: each refusal answers and writes nothing', () => {
  it('wrong redirect_uri, wrong resource, wrong verifier, malformed verifier, another client', async () => {
    const c = await register(t);
    const other = await register(t);
    const p = pkce();
    const code = await codeFor(c.client_id, p.challenge);
    const cases: [Promise<{ statusCode: number; body: string; json(): unknown }>, string][] = [
      [exchange(c.client_id, code, p.verifier, { redirect_uri: `${REDIRECT}/x` }), 'invalid_grant'],
      [exchange(c.client_id, code, p.verifier, { resource: OTHER_URL }), 'invalid_target'],
      [exchange(c.client_id, code, pkce().verifier), 'invalid_grant'],
      [exchange(c.client_id, code, 'short'), 'invalid_grant'],
      [exchange(other.client_id, code, p.verifier), 'invalid_grant'],
      [exchange(c.client_id, `${code}x`, p.verifier), 'invalid_grant'],
    ];
    for (const [res, error] of cases) refused(await res, error);
    assert.deepEqual(await written(c.client_id), { tokens: 0, events: [] });
    assert.deepEqual(await written(other.client_id), { tokens: 0, events: [] });
    // None of them used the code up.
    const ok = await exchange(c.client_id, code, p.verifier);
    assert.equal(ok.statusCode, 200, ok.body);
    const after = await written(c.client_id);
    assert.equal(after.tokens, 2);
    assert.deepEqual(
      after.events.map((e) => e.action),
      ['oauth.token_issued'],
    );
    const data = after.events[0]!.data as Record<string, unknown>;
    assert.equal(data.grant_type, 'authorization_code');
    assert.equal(data.resource, MCP_URL);
    assert.equal(data.client_id, c.client_id);
    assert.match(String(data.access_token), /^lk_at_/);
    assert.match(String(data.refresh_token), /^lk_rt_/);
  });

  for (const [how, send] of [
    ['as they come', (f: () => Promise<unknown>) => f()],
    ['in one group', inOneGroup],
  ] as const)
    it(`concurrent exchanges of one code, ${how}: one issues, the others are replays that revoke it`, async () => {
      const c = await register(t);
      const p = pkce();
      const code = await codeFor(c.client_id, p.challenge);
      const results = (await send(() =>
        Promise.all([1, 2, 3, 4].map(() => exchange(c.client_id, code, p.verifier))),
      )) as Awaited<ReturnType<typeof exchange>>[];
      const ok = results.filter((r) => r.statusCode === 200);
      assert.equal(ok.length, 1, results.map((r) => r.body).join('\n'));
      refused(
        results.find((r) => r.statusCode !== 200)!,
        'invalid_grant',
      );
      const issued = ok[0]!.json() as { access_token: string; refresh_token: string };
      assert.deepEqual((await introspect(t, issued.access_token)).json(), { active: false });
      const { events } = await written(c.client_id);
      assert.deepEqual(
        events.map((e) => e.action),
        ['oauth.token_issued', 'oauth.code_replayed', 'oauth.code_replayed', 'oauth.code_replayed'],
      );
    });
});

/**
 * A first use, then (a moment later, in the same group) a replay that would also fail another
 * check: the replay is still a replay, and what the first use issued dies. On PostgreSQL both share
 * one execution of the grant's statement, where the replay must not be answered by the other check
 * alone.
 */
const firstThenReplay = <T>(first: () => Promise<T>, replay: () => Promise<T>) =>
  inOneGroup(async () => {
    const a = first();
    await new Promise((r) => setTimeout(r, 50));
    return Promise.all([a, replay()]);
  });

describe('a replay that fails another check too is still a replay', () => {
  it("a code presented again with a wrong verifier, in the first use's group: the family dies", async () => {
    const c = await register(t);
    const p = pkce();
    const code = await codeFor(c.client_id, p.challenge);
    const [first, replay] = await firstThenReplay(
      () => exchange(c.client_id, code, p.verifier),
      () => exchange(c.client_id, code, pkce().verifier),
    );
    assert.equal(first.statusCode, 200, first.body);
    refused(replay, 'invalid_grant');
    const issued = first.json() as { access_token: string };
    assert.deepEqual((await introspect(t, issued.access_token)).json(), { active: false });
    const { events } = await written(c.client_id);
    assert.deepEqual(
      events.map((e) => e.action),
      ['oauth.token_issued', 'oauth.code_replayed'],
    );
  });

  it("a refresh token presented again for another resource, in its rotation's group: the family dies", async () => {
    const b = t.client();
    await b.signup();
    const { client, tokens } = await tokensFor(t, b);
    const refresh = (extra: Record<string, string> = {}) =>
      form(t, '/api/oauth/token', {
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token!,
        client_id: client.client_id,
        ...extra,
      });
    const [first, replay] = await firstThenReplay(
      () => refresh(),
      () => refresh({ resource: OTHER_URL }),
    );
    assert.equal(first.statusCode, 200, first.body);
    refused(replay, 'invalid_grant');
    const next = first.json() as { access_token: string };
    assert.deepEqual((await introspect(t, next.access_token)).json(), { active: false });
    const reuse = await t.deps.db
      .selectFrom('audit_events')
      .select('action')
      .where('target', '=', `client:${client.client_id}`)
      .where('action', '=', 'oauth.refresh_reuse_detected')
      .execute();
    assert.equal(reuse.length, 1);
  });
});

describe('refresh: each refusal answers and rotates nothing', () => {
  it('a widening scope, another resource, another client: refused, and the token still rotates', async () => {
    const b = t.client();
    await b.signup();
    const { client, tokens } = await tokensFor(t, b);
    const other = await register(t);
    const refresh = (extra: Record<string, string>) =>
      form(t, '/api/oauth/token', {
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token!,
        client_id: client.client_id,
        ...extra,
      });
    const before = await written(client.client_id);
    refused(await refresh({ scope: 'mcp:read mcp:admin' }), 'invalid_scope');
    refused(await refresh({ resource: OTHER_URL }), 'invalid_target');
    refused(await refresh({ client_id: other.client_id }), 'invalid_grant');
    assert.deepEqual(await written(client.client_id), before);
    // Still unused: it rotates now, narrowed, and the event names the token it replaced.
    const ok = await refresh({ scope: 'mcp:read offline_access' });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal((ok.json() as { scope: string }).scope, 'mcp:read');
    const after = await written(client.client_id);
    assert.equal(after.tokens, before.tokens + 2);
    const last = after.events.at(-1)!;
    assert.equal(last.action, 'oauth.token_refreshed');
    const data = last.data as Record<string, unknown>;
    assert.deepEqual(data.scopes, ['mcp:read']);
    assert.equal(data.previous, tokens.refresh_token!.slice(0, String(data.previous).length));
    // The new refresh token kept the full grant: a refresh without scope gets it all back.
    const next = ok.json() as { refresh_token: string };
    const full = await form(t, '/api/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: next.refresh_token,
      client_id: client.client_id,
    });
    assert.equal(full.statusCode, 200, full.body);
    assert.equal((full.json() as { scope: string }).scope, tokens.scope);
  });
});

describe('refresh: concurrent rotations of one token', () => {
  for (const [how, send] of [
    ['as they come', (f: () => Promise<unknown>) => f()],
    ['in one group', inOneGroup],
  ] as const)
    it(`${how}: one rotates; the others find it rotated, which is reuse, and the family dies`, async () => {
      const b = t.client();
      await b.signup();
      const { client, tokens } = await tokensFor(t, b);
      const params = {
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token!,
        client_id: client.client_id,
      };
      const results = (await send(() =>
        Promise.all([1, 2, 3, 4].map(() => form(t, '/api/oauth/token', params))),
      )) as Awaited<ReturnType<typeof form>>[];
      const ok = results.filter((r) => r.statusCode === 200);
      assert.equal(ok.length, 1, results.map((r) => r.body).join('\n'));
      for (const r of results.filter((r) => r.statusCode !== 200)) refused(r, 'invalid_grant');
      const next = ok[0]!.json() as { access_token: string };
      assert.deepEqual((await introspect(t, next.access_token)).json(), { active: false });
      const { events } = await written(client.client_id);
      assert.equal(events.filter((e) => e.action === 'oauth.token_refreshed').length, 1);
    });
});
