import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { after, before, describe, it } from 'node:test';
import { DAY, HOUR, MINUTE, manualClock } from '../../src/lib/clock.js';
import { type Client, PUBLIC_URL, type TestServer, testServer } from '../helpers/harness.js';
import { form, tokensFor } from '../oauth/helpers.js';
import { bearer, mintPat, orgWithRoles } from './helpers.js';

/**
 * Issue 15, "every credential is bounded by what it was granted": rows 1–5 of the attack table,
 * and the rules for credentials minted by other credentials.
 */
const clock = manualClock(new Date());
let t: TestServer;
before(async () => {
  t = await testServer({ clock });
});
after(() => t.close());

const API = `${PUBLIC_URL}/api`;
let ipCounter = 0;
/** Each call from its own address, so the per-IP mint limit never decides a test. */
const ip = () => `10.151.${Math.floor(++ipCounter / 250)}.${ipCounter % 250}`;
const call = (
  token: string,
  r: { method?: 'GET' | 'POST' | 'PATCH' | 'DELETE'; url: string; body?: unknown; org?: string },
) => bearer(t, token, { ...r, ip: ip() });

function problem(res: LightMyRequestResponse, status: number, code: string, what = '') {
  assert.equal(res.statusCode, status, `${what} ${res.body}`);
  assert.equal(res.json().code, code, what);
}

/** A signed-up person whose account has no password (as after a magic-link, SSO or SCIM sign-up). */
async function passwordless(): Promise<{ c: Client; email: string; org: { id: string } }> {
  const c = t.client();
  const { user, org } = await c.signup();
  await t.deps.db.updateTable('users').set({ password_hash: null }).where('id', '=', user.id).execute();
  return { c, email: user.email, org };
}

const passwordSignIn = (email: string, password: string) =>
  t.client().post('/api/auth/signin', { email, password });

/** An OAuth access token for Latchkey's own API, consented by `c` in `org`. */
async function apiAccessToken(c: Client, org: string, scope: string) {
  const { tokens } = await tokensFor(t, c, { resource: API, scope, tick: scope.split(' '), org });
  return tokens;
}

async function orgKey(c: Client, org: string, body: Record<string, unknown>) {
  const res = await c.req({ method: 'POST', url: '/api/v1/org/tokens', body, org });
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as { id: string; token: string; prefix: string; expires_at: string | null };
}

describe('the attack table, rows 1–5', () => {
  it('row 1: a PAT scoped org:read cannot set a password on a passwordless account', async () => {
    const { c, email } = await passwordless();
    const pat = await mintPat(c, { scopes: ['org:read'] });
    const res = await call(pat.token, {
      method: 'POST',
      url: '/api/auth/password',
      body: { new_password: 'the attacker chose this one' },
    });
    problem(res, 403, 'forbidden');
    assert.equal((await passwordSignIn(email, 'the attacker chose this one')).statusCode, 401);
  });

  it('row 1: a third-party OAuth token for the API cannot set a password, even holding account:write', async () => {
    const { c, email, org } = await passwordless();
    const at = await apiAccessToken(c, org.id, 'org:read account:write');
    const res = await call(at.access_token, {
      method: 'POST',
      url: '/api/auth/password',
      body: { new_password: 'the attacker chose this one' },
    });
    problem(res, 403, 'session_required');
    assert.equal((await passwordSignIn(email, 'the attacker chose this one')).statusCode, 401);
  });

  it('row 1: a first password needs a session that signed in within 10 minutes, not a PAT', async () => {
    const stale = await passwordless();
    clock.advance(11 * MINUTE);
    problem(
      await stale.c.post('/api/auth/password', { new_password: 'a first password for me' }),
      403,
      'reauthentication_required',
      'session older than 10 minutes',
    );
    const pat = await mintPat(stale.c, { scopes: ['account:write'] });
    problem(
      await call(pat.token, {
        method: 'POST',
        url: '/api/auth/password',
        body: { new_password: 'a first password for me' },
      }),
      403,
      'reauthentication_required',
      'a PAT, even with account:write',
    );
    const fresh = await passwordless();
    const ok = await fresh.c.post('/api/auth/password', { new_password: 'a first password for me' });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal((await passwordSignIn(fresh.email, 'a first password for me')).statusCode, 200);
  });

  it('row 2: an OAuth access token cannot mint a personal token (403), and what it minted dies with its grant', async () => {
    const { owner, org } = await orgWithRoles(t);
    const at = await apiAccessToken(owner, org.id, 'org:read members:read tokens:manage');
    const pat = await call(at.access_token, { method: 'POST', url: '/api/v1/tokens', body: {} });
    problem(pat, 403, 'session_required');
    // An org key it may mint (it holds tokens:manage) is bounded by it and revoked with its grant.
    const key = await call(at.access_token, {
      method: 'POST',
      url: '/api/v1/org/tokens',
      body: { scopes: ['org:read'] },
    });
    assert.equal(key.statusCode, 201, key.body);
    const minted = key.json() as { token: string; expires_at: string };
    assert.ok(Date.parse(minted.expires_at) <= clock.now().getTime() + at.expires_in * 1000);
    const beyond = await call(at.access_token, {
      method: 'POST',
      url: '/api/v1/org/tokens',
      body: { scopes: ['audit:read'] },
    });
    problem(beyond, 403, 'forbidden', 'scopes the access token lacks');
    assert.equal((await call(minted.token, { url: '/api/v1/org' })).statusCode, 200);
    const grants = (await owner.get('/api/v1/me/grants')).json() as { data: { id: string }[] };
    assert.ok(grants.data.length > 0);
    const out = await owner.delete(`/api/v1/me/grants/${grants.data[0]!.id}`);
    assert.equal(out.statusCode, 204);
    assert.equal((await call(minted.token, { url: '/api/v1/org' })).statusCode, 401);
  });

  it('row 3: an app made by an org key scoped oauth:manage gets at most oauth:manage; its client-credentials token cannot mint an org key', async () => {
    const { owner, org } = await orgWithRoles(t);
    const key = await orgKey(owner, org.id, { scopes: ['oauth:manage'] });
    const wide = await call(key.token, {
      method: 'POST',
      url: '/api/v1/oauth/clients',
      body: {
        name: 'Escalator',
        type: 'confidential',
        grant_types: ['client_credentials'],
        scopes: ['tokens:manage', 'members:manage'],
      },
    });
    problem(wide, 403, 'forbidden', 'allowing scopes the creator lacks');
    const made = await call(key.token, {
      method: 'POST',
      url: '/api/v1/oauth/clients',
      body: { name: 'Escalator', type: 'confidential', grant_types: ['client_credentials'] },
    });
    assert.equal(made.statusCode, 201, made.body);
    const app = made.json() as { id: string; client_id: string; client_secret: string; scopes: string[] };
    assert.deepEqual(app.scopes, ['oauth:manage']);
    const basic: [string, string] = [app.client_id, app.client_secret];
    const asked = await form(
      t,
      '/api/oauth/token',
      { grant_type: 'client_credentials', resource: API, scope: 'tokens:manage' },
      { basic },
    );
    assert.equal(asked.json().error, 'invalid_scope');
    const cc = await form(
      t,
      '/api/oauth/token',
      { grant_type: 'client_credentials', resource: API, scope: 'oauth:manage' },
      { basic },
    );
    assert.equal(cc.statusCode, 200, cc.body);
    assert.equal(cc.json().scope, 'oauth:manage');
    const mint = await call(cc.json().access_token, { method: 'POST', url: '/api/v1/org/tokens', body: {} });
    problem(mint, 403, 'forbidden');
    // Editing cannot widen it either.
    const edit = await call(key.token, {
      method: 'PATCH',
      url: `/api/v1/oauth/clients/${app.id}`,
      body: { scopes: ['tokens:manage'] },
    });
    problem(edit, 403, 'forbidden', 'widening on edit');
  });

  it('row 4: an org key scoped org:read cannot remove a member', async () => {
    const { owner, org, ids } = await orgWithRoles(t);
    const key = await orgKey(owner, org.id, { scopes: ['org:read'] });
    const res = await call(key.token, { method: 'DELETE', url: `/api/v1/org/members/${ids.member}` });
    problem(res, 403, 'forbidden');
    const members = (await owner.get('/api/v1/org/members', org.id)).json() as {
      data: { user_id: string }[];
    };
    assert.ok(
      members.data.some((m) => m.user_id === ids.member),
      'still a member',
    );
  });

  it('row 5: a PAT scoped org:read can neither list nor revoke sessions nor revoke other PATs', async () => {
    const c = t.client();
    const { org } = await c.signup();
    const pat = await mintPat(c, { scopes: ['org:read'] });
    const other = await mintPat(c, { scopes: ['org:read'] });
    const sessions = await c.get('/api/auth/sessions');
    assert.equal(sessions.statusCode, 200);
    const sid = (sessions.json() as { data: { id: string }[] }).data[0]!.id;
    problem(await call(pat.token, { url: '/api/auth/sessions' }), 403, 'forbidden', 'list sessions');
    problem(
      await call(pat.token, { method: 'DELETE', url: `/api/auth/sessions/${sid}` }),
      403,
      'forbidden',
      'revoke a session',
    );
    problem(
      await call(pat.token, { method: 'DELETE', url: `/api/v1/tokens/${other.id}` }),
      403,
      'forbidden',
      'revoke another PAT',
    );
    assert.equal((await c.get('/api/v1/me')).statusCode, 200, 'the session still works');
    assert.equal((await call(other.token, { url: '/api/v1/me' })).statusCode, 403, 'org:read only');
    assert.equal(
      (await call(other.token, { url: '/api/v1/org', org: org.id })).statusCode,
      200,
      'still live',
    );
  });
});

describe('derived credentials never outgrow their parent', () => {
  it('holds at most the parent’s scopes', async () => {
    const { owner, org } = await orgWithRoles(t);
    const parent = await orgKey(owner, org.id, { scopes: ['org:read', 'tokens:manage'] });
    problem(
      await call(parent.token, {
        method: 'POST',
        url: '/api/v1/org/tokens',
        body: { scopes: ['members:manage'] },
      }),
      403,
      'forbidden',
    );
    const pat = await mintPat(owner, { scopes: ['account:write', 'org:read'] });
    problem(
      await call(pat.token, { method: 'POST', url: '/api/v1/tokens', body: { scopes: ['audit:read'] } }),
      403,
      'forbidden',
      'a PAT minting a PAT',
    );
    const child = await call(pat.token, {
      method: 'POST',
      url: '/api/v1/tokens',
      body: { scopes: ['org:read'] },
    });
    assert.equal(child.statusCode, 201, child.body);
    assert.equal(child.json().created_by, `pat:${pat.prefix}`);
  });

  it('holds at most the parent’s org', async () => {
    const a = await orgWithRoles(t);
    const b = t.client();
    const { org: orgB } = await b.signup();
    const key = await orgKey(a.owner, a.org.id, { scopes: ['tokens:manage', 'org:read'] });
    problem(
      await call(key.token, { method: 'POST', url: '/api/v1/org/tokens', body: {}, org: orgB.id }),
      403,
      'org_forbidden',
    );
    const child = await call(key.token, { method: 'POST', url: '/api/v1/org/tokens', body: {} });
    assert.equal(child.statusCode, 201);
    assert.equal(child.json().org_id, a.org.id);
  });

  it('expires no later than the parent', async () => {
    const { owner, org } = await orgWithRoles(t);
    const parent = await orgKey(owner, org.id, { scopes: ['tokens:manage'], expires_in: DAY / 1000 });
    const child = await call(parent.token, {
      method: 'POST',
      url: '/api/v1/org/tokens',
      body: { scopes: ['tokens:manage'] },
    });
    assert.equal(child.statusCode, 201, child.body);
    assert.equal(child.json().expires_at, parent.expires_at, 'the 90-day default is cut to the parent');
    problem(
      await call(parent.token, {
        method: 'POST',
        url: '/api/v1/org/tokens',
        body: { scopes: ['tokens:manage'], expires_in: 30 * 86400 },
      }),
      400,
      'invalid_request',
      'an explicit lifetime beyond the parent',
    );
    problem(
      await call(parent.token, {
        method: 'POST',
        url: '/api/v1/org/tokens',
        body: { scopes: ['tokens:manage'], never_expires: true },
      }),
      400,
      'invalid_request',
      'no expiry under an expiring parent',
    );
  });

  it('is revoked with its parent, at any depth, in the same transaction', async () => {
    const { owner, org } = await orgWithRoles(t);
    const parent = await orgKey(owner, org.id, { scopes: ['tokens:manage', 'org:read'] });
    const child = (
      await call(parent.token, {
        method: 'POST',
        url: '/api/v1/org/tokens',
        body: { scopes: ['tokens:manage', 'org:read'] },
      })
    ).json() as { id: string; token: string };
    const grandchild = (
      await call(child.token, { method: 'POST', url: '/api/v1/org/tokens', body: { scopes: ['org:read'] } })
    ).json() as { id: string; token: string };
    // Warm the cache: revocation must drop the cached entries too.
    for (const tok of [parent.token, child.token, grandchild.token])
      assert.equal((await call(tok, { url: '/api/v1/org' })).statusCode, 200);
    assert.equal((await owner.delete(`/api/v1/org/tokens/${parent.id}`, org.id)).statusCode, 204);
    for (const tok of [parent.token, child.token, grandchild.token])
      assert.equal((await call(tok, { url: '/api/v1/org' })).statusCode, 401);
    const rows = await t.deps.db
      .selectFrom('api_tokens')
      .select(['id', 'revoked_reason'])
      .where('id', 'in', [child.id, grandchild.id])
      .execute();
    assert.deepEqual(
      rows.map((r) => r.revoked_reason),
      ['parent_revoked', 'parent_revoked'],
    );
  });

  it('a PAT minted by a PAT cannot act on the account, even with account:write', async () => {
    const c = t.client();
    await c.signup();
    const pat = await mintPat(c, { scopes: ['account:write', 'account:read'] });
    assert.equal(
      (await call(pat.token, { url: '/api/auth/sessions' })).statusCode,
      200,
      'minted by a session',
    );
    const child = await call(pat.token, {
      method: 'POST',
      url: '/api/v1/tokens',
      body: { scopes: ['account:write'] },
    });
    assert.equal(child.statusCode, 201, child.body);
    problem(await call(child.json().token, { url: '/api/auth/sessions' }), 403, 'session_required');
  });

  it('signing out of every OAuth grant at once ends their tokens', async () => {
    const { owner, org } = await orgWithRoles(t);
    const one = await apiAccessToken(owner, org.id, 'org:read');
    const two = await apiAccessToken(owner, org.id, 'org:read');
    problem(
      await call(one.access_token, { method: 'DELETE', url: '/api/v1/me/grants' }),
      403,
      'session_required',
    );
    const res = await owner.delete('/api/v1/me/grants');
    assert.equal(res.statusCode, 200, res.body);
    assert.ok(res.json().revoked >= 2);
    for (const at of [one, two])
      assert.equal((await call(at.access_token, { url: '/api/v1/org' })).statusCode, 401);
    assert.deepEqual((await owner.get('/api/v1/me/grants')).json().data, []);
  });
});

describe('accounts prove their address before they hold power', () => {
  it('an unverified account cannot mint a PAT, a service token or an org key, nor create an OAuth app', async () => {
    const c = t.client();
    const { org } = await c.signup({ verify: false });
    assert.equal((await c.get('/api/v1/me')).statusCode, 200, 'it can sign in');
    problem(await c.post('/api/v1/tokens', { scopes: ['org:read'] }), 403, 'email_unverified', 'PAT');
    problem(
      await c.post('/api/v1/tokens', { type: 'svc' }, org.id),
      403,
      'email_unverified',
      'service token',
    );
    problem(await c.post('/api/v1/org/tokens', {}, org.id), 403, 'email_unverified', 'org key');
    problem(
      await c.post(
        '/api/v1/oauth/clients',
        { name: 'Squatter app', type: 'confidential', grant_types: ['client_credentials'] },
        org.id,
      ),
      403,
      'email_unverified',
      'OAuth app',
    );
    const rows = await t.deps.db
      .selectFrom('api_tokens')
      .select('id')
      .where('created_by_user', '=', (await c.get('/api/v1/me')).json().user.id)
      .execute();
    assert.deepEqual(rows, []);
  });
});

describe('defaults', () => {
  it('a token minted with no scopes holds org:read only; with no lifetime, 90 days; never only when asked', async () => {
    const { owner, org } = await orgWithRoles(t);
    const pat = await owner.post('/api/v1/tokens', {});
    assert.equal(pat.statusCode, 201, pat.body);
    assert.deepEqual(pat.json().scopes, ['org:read']);
    assert.equal(Date.parse(pat.json().expires_at) - Date.parse(pat.json().created_at), 90 * DAY);
    const key = await orgKey(owner, org.id, {});
    assert.equal(Date.parse(key.expires_at!) - clock.now().getTime(), 90 * DAY);
    const row = await t.deps.db
      .selectFrom('api_tokens')
      .select('scopes')
      .where('id', '=', key.id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(row.scopes, ['org:read']);
    const never = await owner.req({
      method: 'POST',
      url: '/api/v1/org/tokens',
      body: { never_expires: true },
      org: org.id,
    });
    assert.equal(never.statusCode, 201, never.body);
    assert.equal(never.json().expires_at, null);
    problem(
      await owner.req({
        method: 'POST',
        url: '/api/v1/org/tokens',
        body: { never_expires: true, expires_in: HOUR / 1000 },
        org: org.id,
      }),
      400,
      'invalid_request',
      'both',
    );
  });

  it('a password change ends the other sessions, every PAT (and what it minted) and refresh tokens', async () => {
    const c = t.client();
    const { user, org, password } = await c.signup();
    const elsewhere = t.client();
    assert.equal((await elsewhere.post('/api/auth/signin', { email: user.email, password })).statusCode, 200);
    const pat = await mintPat(c, { scopes: ['tokens:manage', 'org:read', 'account:read'] });
    const minted = await call(pat.token, {
      method: 'POST',
      url: '/api/v1/org/tokens',
      body: {},
      org: org.id,
    });
    assert.equal(minted.statusCode, 201, minted.body);
    const { client, tokens } = await tokensFor(t, c, { resource: API, scope: 'org:read', org: org.id });
    assert.ok(tokens.refresh_token);
    const res = await c.post('/api/auth/password', {
      current_password: password,
      new_password: 'a brand new passphrase',
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal((await c.get('/api/v1/me')).statusCode, 200, 'this browser keeps a fresh session');
    assert.equal((await elsewhere.get('/api/v1/me')).statusCode, 401, 'the other browser is signed out');
    assert.equal((await call(pat.token, { url: '/api/v1/me' })).statusCode, 401);
    assert.equal((await call(minted.json().token, { url: '/api/v1/org' })).statusCode, 401);
    const refresh = await form(t, '/api/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token!,
      client_id: client.client_id,
      resource: API,
    });
    assert.equal(refresh.json().error, 'invalid_grant');
  });
});
