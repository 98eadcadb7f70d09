import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DAY, manualClock } from '../../src/lib/clock.js';
import { parseToken } from '../../src/tokens/format.js';
import { scopesForRole } from '../../src/tokens/scopes.js';
import { type TestServer, testServer } from '../helpers/harness.js';
import { bearer, mintPat, orgWithRoles } from './helpers.js';

const clock = manualClock(new Date());
let t: TestServer;
before(async () => {
  t = await testServer({ clock });
});
after(() => t.close());

describe('personal access tokens', () => {
  it('mints a PAT shown once, in the documented shape, and lists it without the secret', async () => {
    const c = t.client();
    const { user } = await c.signup();
    const res = await c.post('/api/v1/tokens', {
      name: 'laptop',
      type: 'pat',
      scopes: ['org:read', 'account:read'],
    });
    assert.equal(res.statusCode, 201);
    const body = res.json();
    assert.deepEqual(Object.keys(body).sort(), [
      'created_at',
      'created_by',
      'expires_at',
      'id',
      'name',
      'org_id',
      'prefix',
      'scopes',
      'token',
      'type',
      'warning',
    ]);
    assert.match(
      body.warning,
      /only time the token is shown/,
      'the response says in words that the secret is not shown again',
    );
    assert.equal(body.type, 'pat');
    assert.equal(parseToken(body.token)?.kind, 'pat');
    assert.equal(body.prefix, body.token.slice(0, 15));
    assert.equal(body.created_by, 'session');
    // No lifetime asked for: 90 days, like the dashboard's.
    assert.equal(Date.parse(body.expires_at) - Date.parse(body.created_at), 90 * DAY);
    const list = await c.get('/api/v1/tokens');
    assert.equal(list.statusCode, 200);
    assert.equal(list.json().data.length, 1);
    assert.equal(list.json().data[0].token, undefined);
    assert.ok(!list.body.includes(body.token), 'the plaintext never appears in a list');
    const row = await t.deps.db
      .selectFrom('api_tokens')
      .select('token_hash')
      .where('id', '=', body.id)
      .executeTakeFirstOrThrow();
    assert.ok(!list.body.includes(row.token_hash), 'nor does its hash');
    const me = await bearer(t, body.token, { url: '/api/v1/me' });
    assert.equal(me.statusCode, 200);
    assert.equal(me.json().user.id, user.id);
    assert.equal(me.json().credential.kind, 'pat');
    assert.equal(me.json().credential.prefix, body.prefix);
  });

  it('mints with no name from an empty body; refuses an oversized name, unknown scopes and bad lifetimes', async () => {
    const c = t.client();
    await c.signup();
    const empty = await c.req({ method: 'POST', url: '/api/v1/tokens' });
    assert.equal(empty.statusCode, 201, empty.body);
    assert.equal(empty.json().name, null);
    for (const body of [
      { name: 'x'.repeat(101) },
      { name: '' },
      { scopes: ['root'] },
      { expires_in: 10 },
      { type: 'org' },
      { name: 5 },
    ]) {
      const r = await c.post('/api/v1/tokens', body);
      assert.equal(r.statusCode, 400, JSON.stringify(body));
      assert.match(r.headers['content-type'] as string, /problem\+json/);
    }
  });

  it('acts in any org its person belongs to, named by x-org-id, within its scopes', async () => {
    const { member, org } = await orgWithRoles(t);
    const pat = await mintPat(member);
    assert.equal((await bearer(t, pat.token, { url: '/api/v1/org/members', org: org.id })).statusCode, 200);
    assert.equal((await bearer(t, pat.token, { url: '/api/v1/org/members', org: org.slug })).statusCode, 200);
    // A member's PAT cannot reach admin routes.
    const audit = await bearer(t, pat.token, { url: '/api/v1/audit', org: org.id });
    assert.equal(audit.statusCode, 403);
    assert.equal(audit.json().code, 'forbidden');
    const inv = await bearer(t, pat.token, {
      method: 'POST',
      url: '/api/v1/org/invitations',
      body: { email: 'x@example.com', role: 'member' },
      org: org.id,
    });
    assert.equal(inv.statusCode, 403);
    // No org named and a PAT has no default org.
    assert.equal((await bearer(t, pat.token, { url: '/api/v1/org/members' })).json().code, 'org_required');
  });

  it('is limited to the scopes it was given, and cannot mint itself more', async () => {
    const { owner, org } = await orgWithRoles(t);
    const narrow = await mintPat(owner, { scopes: ['org:read'] });
    assert.equal((await bearer(t, narrow.token, { url: '/api/v1/org', org: org.id })).statusCode, 200);
    const members = await bearer(t, narrow.token, { url: '/api/v1/org/members', org: org.id });
    assert.equal(members.statusCode, 403);
    assert.equal(members.json().scope, 'members:read');
    const escalate = await bearer(t, narrow.token, {
      method: 'POST',
      url: '/api/v1/tokens',
      body: { scopes: ['audit:read'] },
    });
    assert.equal(escalate.statusCode, 403);
    // Minting personal tokens is an account action: a PAT without account:write cannot.
    const same = await bearer(t, narrow.token, { method: 'POST', url: '/api/v1/tokens', body: {} });
    assert.equal(same.statusCode, 403);
    assert.equal(same.json().code, 'forbidden');
    const createOrg = await bearer(t, narrow.token, {
      method: 'POST',
      url: '/api/v1/orgs',
      body: { name: 'Nope' },
    });
    assert.equal(createOrg.statusCode, 403);
  });

  it('revokes idempotently; unknown and foreign ids are 404; a revoked token looks unknown', async () => {
    const a = t.client();
    await a.signup();
    const b = t.client();
    await b.signup();
    const pat = await mintPat(a);
    assert.equal((await bearer(t, pat.token, { url: '/api/v1/me' })).statusCode, 200);
    assert.equal((await b.delete(`/api/v1/tokens/${pat.id}`)).statusCode, 404, "another person's token");
    assert.equal((await a.delete(`/api/v1/tokens/${pat.id}`)).statusCode, 204);
    assert.equal((await a.delete(`/api/v1/tokens/${pat.id}`)).statusCode, 204, 'again');
    assert.equal((await a.delete('/api/v1/tokens/00000000-0000-4000-8000-000000000000')).statusCode, 404);
    const revoked = await bearer(t, pat.token, { url: '/api/v1/me' });
    const unknown = await bearer(t, `${pat.token.slice(0, -10)}AAAAAAAAAA`, { url: '/api/v1/me' });
    assert.equal(revoked.statusCode, 401);
    assert.equal(unknown.statusCode, 401);
    assert.equal(revoked.body, unknown.body);
    assert.equal(revoked.headers['www-authenticate'], unknown.headers['www-authenticate']);
  });

  it('expires: an expired token answers exactly like an unknown one', async () => {
    const c = t.client();
    await c.signup();
    const pat = await mintPat(c, { expires_in: 3600 });
    assert.equal((await bearer(t, pat.token, { url: '/api/v1/me' })).statusCode, 200);
    clock.advance(3600_000 + 1);
    const expired = await bearer(t, pat.token, { url: '/api/v1/me' });
    const other = await bearer(t, 'lk_pat_nonsense', { url: '/api/v1/me' });
    assert.equal(expired.statusCode, 401);
    assert.equal(expired.body, other.body);
  });

  it('dies with a password change', async () => {
    const c = t.client();
    const { password } = await c.signup();
    const pat = await mintPat(c);
    assert.equal((await bearer(t, pat.token, { url: '/api/v1/me' })).statusCode, 200);
    assert.equal(
      (
        await c.post('/api/auth/password', {
          current_password: password,
          new_password: 'another long passphrase',
        })
      ).statusCode,
      200,
    );
    assert.equal((await bearer(t, pat.token, { url: '/api/v1/me' })).statusCode, 401);
  });

  it('loses an org at once when its person is removed from it', async () => {
    const { owner, member, org, ids } = await orgWithRoles(t);
    const pat = await mintPat(member);
    assert.equal((await bearer(t, pat.token, { url: '/api/v1/org', org: org.id })).statusCode, 200);
    assert.equal((await owner.delete(`/api/v1/org/members/${ids.member}`, org.id)).statusCode, 204);
    const after = await bearer(t, pat.token, { url: '/api/v1/org', org: org.id });
    assert.equal(after.statusCode, 403);
    assert.equal(after.json().code, 'org_forbidden');
  });
});

describe('service tokens', () => {
  it('are minted by admins only, bound to one org, and survive the minting admin leaving', async () => {
    const { owner, admin, member, org, ids } = await orgWithRoles(t);
    assert.equal((await member.post('/api/v1/tokens', { type: 'svc', name: 'ci' }, org.id)).statusCode, 403);
    const res = await admin.post(
      '/api/v1/tokens',
      { type: 'svc', name: 'ci', scopes: ['org:read', 'members:read'] },
      org.id,
    );
    assert.equal(res.statusCode, 201, res.body);
    const svc = res.json();
    assert.equal(parseToken(svc.token)?.kind, 'svc');
    assert.equal(svc.org_id, org.id);
    const me = await bearer(t, svc.token, { url: '/api/v1/me' });
    assert.equal(me.json().user, null);
    assert.equal(me.json().org.id, org.id, 'its bound org, with no header');
    assert.equal((await owner.delete(`/api/v1/org/members/${ids.admin}`, org.id)).statusCode, 204);
    assert.equal((await bearer(t, svc.token, { url: '/api/v1/org/members' })).statusCode, 200);
    const listed = await owner.get('/api/v1/tokens?type=svc', org.id);
    assert.equal(listed.json().data[0].id, svc.id);
    assert.equal((await owner.delete(`/api/v1/tokens/${svc.id}`, org.id)).statusCode, 204);
    assert.equal((await bearer(t, svc.token, { url: '/api/v1/me' })).statusCode, 401);
  });
});

describe('org API keys', () => {
  it('reach every admin route of their org and record provenance', async () => {
    const { owner, org } = await orgWithRoles(t);
    const res = await owner.post(
      '/api/v1/org/tokens',
      { name: 'deploy', expires_in: 30 * 86400, scopes: scopesForRole('admin') },
      org.id,
    );
    assert.equal(res.statusCode, 201, res.body);
    const key = res.json();
    assert.equal(parseToken(key.token)?.kind, 'org');
    assert.equal(key.created_by, 'session');
    assert.equal(key.last_used_at, null);
    for (const url of [
      '/api/v1/org',
      '/api/v1/org/members',
      '/api/v1/org/invitations',
      '/api/v1/audit',
      '/api/v1/org/tokens',
    ]) {
      assert.equal((await bearer(t, key.token, { url })).statusCode, 200, url);
    }
    assert.equal(
      (await bearer(t, key.token, { method: 'DELETE', url: '/api/v1/org' })).statusCode,
      403,
      'admin scope, not owner',
    );
    const child = await bearer(t, key.token, {
      method: 'POST',
      url: '/api/v1/org/tokens',
      body: { name: 'child' },
    });
    assert.equal(child.statusCode, 201);
    assert.equal(child.json().created_by, `org-token:${key.prefix}`);
    const pat = await mintPat(owner);
    const viaPat = await bearer(t, pat.token, {
      method: 'POST',
      url: '/api/v1/org/tokens',
      body: {},
      org: org.id,
    });
    assert.equal(viaPat.json().created_by, `pat:${pat.prefix}`);
    const list = await owner.get('/api/v1/org/tokens', org.id);
    const mine = list.json().data.find((k: { id: string }) => k.id === key.id);
    assert.ok(mine.last_used_at, 'last use is recorded');
    assert.ok(!list.body.includes(key.token));
  });

  it('of org A, with x-org-id naming org B, get 403 before any handler runs', async () => {
    const a = await orgWithRoles(t);
    const b = t.client();
    const { org: orgB } = await b.signup();
    const key = (await a.owner.post('/api/v1/org/tokens', {}, a.org.id)).json();
    const cross = await bearer(t, key.token, { url: '/api/v1/org/members', org: orgB.id });
    const ghost = await bearer(t, key.token, {
      url: '/api/v1/org/members',
      org: '00000000-0000-4000-8000-000000000000',
    });
    assert.equal(cross.statusCode, 403);
    assert.equal(cross.json().code, 'org_forbidden');
    assert.equal(cross.body, ghost.body);
  });

  it('are refused to members and die with their org', async () => {
    const { owner, member, org } = await orgWithRoles(t);
    assert.equal((await member.post('/api/v1/org/tokens', {}, org.id)).statusCode, 403);
    assert.equal((await member.get('/api/v1/org/tokens', org.id)).statusCode, 403);
    const key = (await owner.post('/api/v1/org/tokens', {}, org.id)).json();
    assert.equal((await bearer(t, key.token, { url: '/api/v1/org' })).statusCode, 200);
    assert.equal((await owner.delete('/api/v1/org', org.id)).statusCode, 204);
    assert.equal((await bearer(t, key.token, { url: '/api/v1/org' })).statusCode, 401);
  });

  it('revoke with 204, then 404 for another org', async () => {
    const a = await orgWithRoles(t);
    const b = t.client();
    const { org: orgB } = await b.signup();
    const key = (await a.owner.post('/api/v1/org/tokens', {}, a.org.id)).json();
    assert.equal((await b.delete(`/api/v1/org/tokens/${key.id}`, orgB.id)).statusCode, 404);
    assert.equal((await a.owner.delete(`/api/v1/org/tokens/${key.id}`, a.org.id)).statusCode, 204);
    assert.equal((await a.owner.delete(`/api/v1/org/tokens/${key.id}`, a.org.id)).statusCode, 204);
    assert.equal((await bearer(t, key.token, { url: '/api/v1/org' })).statusCode, 401);
  });

  it('lists at most 500 a page with a cursor', async () => {
    const { owner, org } = await orgWithRoles(t);
    assert.equal((await owner.get('/api/v1/org/tokens?limit=501', org.id)).statusCode, 400);
    const ip = '10.250.1.1';
    const c = t.client({ ip });
    c.cookie = owner.cookie;
    for (let i = 0; i < 3; i++)
      assert.equal((await c.post('/api/v1/org/tokens', { name: `k${i}` }, org.id)).statusCode, 201);
    const p1 = (await owner.get('/api/v1/org/tokens?limit=2', org.id)).json();
    assert.equal(p1.data.length, 2);
    assert.ok(p1.next_cursor);
    const p2 = (await owner.get(`/api/v1/org/tokens?limit=2&cursor=${p1.next_cursor}`, org.id)).json();
    assert.equal(p2.data.length, 1);
    assert.equal(p2.next_cursor, null);
  });
});

describe('mint limit', () => {
  it('shares 10 mints an hour per IP across PAT, SVC and org keys; the 11th gets 429 with Retry-After', async () => {
    const { owner, org } = await orgWithRoles(t);
    const c = t.client({ ip: '10.251.0.1' });
    c.cookie = owner.cookie;
    const urls = [
      () => c.post('/api/v1/tokens', {}),
      () => c.post('/api/v1/tokens', { type: 'svc' }, org.id),
      () => c.post('/api/v1/org/tokens', {}, org.id),
    ];
    for (let i = 0; i < 10; i++) assert.equal((await urls[i % 3]!()).statusCode, 201);
    const eleventh = await urls[1]!();
    assert.equal(eleventh.statusCode, 429);
    assert.ok(Number(eleventh.headers['retry-after']) > 0);
    assert.equal((await c.get('/api/v1/tokens')).statusCode, 200, 'listing is not a mint');
  });
});

describe('expiry bookkeeping', () => {
  it('keeps an expired org key out of the list', async () => {
    const { owner, org } = await orgWithRoles(t);
    const key = (await owner.post('/api/v1/org/tokens', { expires_in: 86400 }, org.id)).json();
    clock.advance(DAY + 1);
    const list = (await owner.get('/api/v1/org/tokens', org.id)).json();
    assert.ok(!list.data.some((k: { id: string }) => k.id === key.id));
  });
});
