import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DAY, manualClock } from '../../src/lib/clock.js';
import { unknownEventPatterns } from '../../src/webhooks/events.js';
import { PUBLIC_URL, type TestServer, testServer } from '../helpers/harness.js';
import { tokensFor } from '../oauth/helpers.js';
import { bearer, mintPat, orgWithRoles } from './helpers.js';

/**
 * Rotating a token: `POST /api/v1/org/tokens/:id/rotate` (org API keys) and
 * `POST /api/v1/tokens/:id/rotate` (personal and service tokens). A new secret with the same name,
 * scopes and expiry; the old secret, and everything minted from it, dies in the same transaction.
 * Who may not rotate, and what a refused rotation leaves alive.
 */
const manual = manualClock(new Date());
/** While `tick` is set, every read of the clock moves it on by that much, as a real clock would. */
let tick = 0;
const clock = {
  ...manual,
  now: () => {
    if (tick) manual.advance(tick);
    return manual.now();
  },
};
let t: TestServer;
before(async () => {
  t = await testServer({ clock });
});
after(() => t.close());

let n = 0;
const ip = () => `10.161.${Math.floor(++n / 250)}.${n % 250}`;
const call = (
  token: string,
  r: { method?: 'GET' | 'POST' | 'PATCH' | 'DELETE'; url: string; body?: unknown; org?: string },
) => bearer(t, token, { ...r, ip: ip() });

interface Minted {
  id: string;
  token: string;
  prefix: string;
  name: string | null;
  scopes: string[];
  expires_at: string | null;
}

describe('token rotation', () => {
  it('an org key: a new secret with the same name, scopes and expiry; the old one and its children die at once', async () => {
    const { owner, org } = await orgWithRoles(t);
    const minted = await owner.post(
      '/api/v1/org/tokens',
      { name: 'deploy bot', scopes: ['org:read', 'tokens:manage'], expires_in: 30 * 86_400 },
      org.id,
    );
    assert.equal(minted.statusCode, 201, minted.body);
    const old = minted.json() as Minted;
    // A token minted by the old key dies with it.
    const child = await call(old.token, {
      method: 'POST',
      url: '/api/v1/org/tokens',
      body: { name: 'child', scopes: ['org:read'] },
      org: org.id,
    });
    assert.equal(child.statusCode, 201, child.body);
    const childToken = (child.json() as Minted).token;

    clock.advance(DAY);
    const res = await owner.post(`/api/v1/org/tokens/${old.id}/rotate`, undefined, org.id);
    assert.equal(res.statusCode, 201, res.body);
    const fresh = res.json() as Minted & { warning: string };
    assert.notEqual(fresh.id, old.id);
    assert.notEqual(fresh.token, old.token);
    assert.equal(fresh.name, 'deploy bot');
    assert.deepEqual([...fresh.scopes].sort(), ['org:read', 'tokens:manage']);
    assert.equal(fresh.expires_at, old.expires_at, 'rotation keeps the expiry: it never extends a key');
    assert.match(fresh.warning, /only time/);

    assert.equal((await call(fresh.token, { url: '/api/v1/org', org: org.id })).statusCode, 200);
    assert.equal((await call(old.token, { url: '/api/v1/org', org: org.id })).statusCode, 401);
    assert.equal((await call(childToken, { url: '/api/v1/org', org: org.id })).statusCode, 401);

    const listed = (await owner.get('/api/v1/org/tokens', org.id)).json().data as Minted[];
    assert.deepEqual(
      listed.filter((k) => k.name === 'deploy bot').map((k) => k.id),
      [fresh.id],
    );
    const rows = await t.deps.db
      .selectFrom('audit_events')
      .select(['action', 'data', 'target'])
      .where('org_id', '=', org.id)
      .where('action', '=', 'token.rotated')
      .execute();
    assert.equal(rows.length, 1);
    const data = (typeof rows[0]!.data === 'string' ? JSON.parse(rows[0]!.data) : rows[0]!.data) as {
      prefix: string;
      replaces: string;
      descendants: string[];
    };
    assert.equal(data.prefix, fresh.prefix);
    assert.equal(data.replaces, old.prefix);
    assert.equal(data.descendants.length, 1);
    // Webhook endpoints may subscribe to it.
    assert.deepEqual(unknownEventPatterns(['token.rotated']), []);
  });

  it('refuses a member, another org, a revoked key and a key rotating itself, and leaves the key alive', async () => {
    const { owner, admin, member, org } = await orgWithRoles(t);
    const other = await orgWithRoles(t);
    const key = (
      await owner.post('/api/v1/org/tokens', { name: 'k', scopes: ['org:read', 'tokens:manage'] }, org.id)
    ).json() as Minted;

    const asMember = await member.post(`/api/v1/org/tokens/${key.id}/rotate`, undefined, org.id);
    assert.equal(asMember.statusCode, 403, asMember.body);
    // Another org's owner, naming their own org: the key is not theirs to see.
    const elsewhere = await other.owner.post(`/api/v1/org/tokens/${key.id}/rotate`, undefined, other.org.id);
    assert.equal(elsewhere.statusCode, 404, elsewhere.body);
    // The key itself cannot rotate itself (it would revoke the credential doing it).
    const self = await call(key.token, {
      method: 'POST',
      url: `/api/v1/org/tokens/${key.id}/rotate`,
      org: org.id,
    });
    assert.equal(self.statusCode, 400, self.body);
    assert.equal(self.json().code, 'invalid_request');
    // A personal token is not an org key.
    const pat = await mintPat(admin);
    const asPat = await admin.post(`/api/v1/org/tokens/${pat.id}/rotate`, undefined, org.id);
    assert.equal(asPat.statusCode, 404, asPat.body);

    assert.equal((await call(key.token, { url: '/api/v1/org', org: org.id })).statusCode, 200, 'still alive');

    assert.equal((await owner.delete(`/api/v1/org/tokens/${key.id}`, org.id)).statusCode, 204);
    const revoked = await owner.post(`/api/v1/org/tokens/${key.id}/rotate`, undefined, org.id);
    assert.equal(revoked.statusCode, 404, revoked.body);
  });

  it('a rotator holding fewer scopes than the key cannot rotate it: nothing changes', async () => {
    const { owner, org } = await orgWithRoles(t);
    const wide = (
      await owner.post(
        '/api/v1/org/tokens',
        { name: 'wide', scopes: ['org:read', 'members:manage', 'tokens:manage'] },
        org.id,
      )
    ).json() as Minted;
    // A personal token of the owner's that may manage tokens but not members.
    const narrow = await mintPat(owner, { scopes: ['org:read', 'tokens:manage'] });
    const res = await call(narrow.token, {
      method: 'POST',
      url: `/api/v1/org/tokens/${wide.id}/rotate`,
      org: org.id,
    });
    assert.equal(res.statusCode, 403, res.body);
    assert.equal((await call(wide.token, { url: '/api/v1/org', org: org.id })).statusCode, 200);
    const live = (await owner.get('/api/v1/org/tokens', org.id)).json().data as Minted[];
    assert.deepEqual(
      live.filter((k) => k.name === 'wide').map((k) => k.id),
      [wide.id],
    );
  });

  it('a personal token: its owner rotates it; nobody else can', async () => {
    const { owner, admin } = await orgWithRoles(t);
    const pat = await mintPat(admin, { name: 'laptop', expires_in: 10 * 86_400 });
    const byOther = await owner.post(`/api/v1/tokens/${pat.id}/rotate`);
    assert.equal(byOther.statusCode, 404, byOther.body);

    const res = await admin.post(`/api/v1/tokens/${pat.id}/rotate`);
    assert.equal(res.statusCode, 201, res.body);
    const fresh = res.json() as Minted;
    assert.equal(fresh.name, 'laptop');
    assert.deepEqual(fresh.scopes, pat.scopes);
    assert.equal((await call(fresh.token, { url: '/api/v1/me' })).statusCode, 200);
    assert.equal((await call(pat.token, { url: '/api/v1/me' })).statusCode, 401);
    // The old id is gone: rotating it again finds nothing.
    assert.equal((await admin.post(`/api/v1/tokens/${pat.id}/rotate`)).statusCode, 404);
  });

  it('a token that expires within the minimum lifetime is not rotated', async () => {
    const { admin } = await orgWithRoles(t);
    const pat = await mintPat(admin, { name: 'short', expires_in: 2 * 86_400 });
    clock.advance(2 * DAY - 30_000);
    const res = await admin.post(`/api/v1/tokens/${pat.id}/rotate`);
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().code, 'invalid_request');
    assert.equal((await call(pat.token, { url: '/api/v1/me' })).statusCode, 200);
  });

  it('an OAuth access token cannot rotate its own person’s personal token (a session is needed), and the token stays alive', async () => {
    const { owner, org } = await orgWithRoles(t);
    const pat = await mintPat(owner, { name: 'cli', expires_in: 10 * 86_400 });
    const scope = 'org:read account:write tokens:manage';
    const { tokens } = await tokensFor(t, owner, {
      resource: `${PUBLIC_URL}/api`,
      scope,
      tick: scope.split(' '),
      org: org.id,
    });
    const res = await call(tokens.access_token, { method: 'POST', url: `/api/v1/tokens/${pat.id}/rotate` });
    assert.equal(res.statusCode, 403, res.body);
    assert.equal(res.json().code, 'session_required');
    assert.equal((await call(pat.token, { url: '/api/v1/me' })).statusCode, 200);
  });

  it('a key that expires with the OAuth token minting it keeps that expiry when the token rotates it, however long the request takes', async () => {
    const { owner, org } = await orgWithRoles(t);
    const scope = 'org:read tokens:manage';
    const { tokens } = await tokensFor(t, owner, {
      resource: `${PUBLIC_URL}/api`,
      scope,
      tick: scope.split(' '),
      org: org.id,
    });
    const minted = await call(tokens.access_token, {
      method: 'POST',
      url: '/api/v1/org/tokens',
      body: { name: 'capped' },
      org: org.id,
    });
    assert.equal(minted.statusCode, 201, minted.body);
    const old = minted.json() as Minted;
    const cap = Date.parse(old.expires_at!);
    assert.ok(cap - manual.now().getTime() <= 3600_000, 'capped at the access token’s expiry');

    clock.advance(60_000);
    tick = 1000;
    try {
      const res = await call(tokens.access_token, {
        method: 'POST',
        url: `/api/v1/org/tokens/${old.id}/rotate`,
        org: org.id,
      });
      assert.equal(res.statusCode, 201, res.body);
      assert.equal((res.json() as Minted).expires_at, old.expires_at);
    } finally {
      tick = 0;
    }
  });

  it('a key stored without scopes (it holds every scope of its kind) rotates to a key that lists them all', async () => {
    const { owner, org } = await orgWithRoles(t);
    const minted = await owner.post(
      '/api/v1/org/tokens',
      { name: 'legacy', expires_in: 30 * 86_400 },
      org.id,
    );
    assert.equal(minted.statusCode, 201, minted.body);
    const old = minted.json() as Minted;
    await t.deps.db.updateTable('api_tokens').set({ scopes: null }).where('id', '=', old.id).execute();
    const res = await owner.post(`/api/v1/org/tokens/${old.id}/rotate`, undefined, org.id);
    assert.equal(res.statusCode, 201, res.body);
    const fresh = res.json() as Minted;
    for (const s of ['org:read', 'members:read', 'tokens:manage'])
      assert.ok(fresh.scopes.includes(s), `${s} in ${fresh.scopes.join(' ')}`);
    // It can still do what the old key could: mint a key of its own.
    const child = await call(fresh.token, {
      method: 'POST',
      url: '/api/v1/org/tokens',
      body: { name: 'child', scopes: ['org:read'] },
      org: org.id,
    });
    assert.equal(child.statusCode, 201, child.body);
  });
});
