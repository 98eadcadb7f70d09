import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sha256Hex } from '../../src/lib/secrets.js';
import { type TestServer, testServer, uniqueEmail } from '../helpers/harness.js';
import { assertProblem, join } from '../orgs/helpers.js';
import { bearer, mintPat } from '../tokens/helpers.js';
import {
  acceptScimInvitation,
  assertScimError,
  auditRows,
  Idp,
  list,
  mintScimToken,
  type ScimGroup,
  type ScimUser,
  scimOrg,
  USER,
} from './helpers.js';

// A SCIM secret reaches its own org's users and groups and nothing else; rotating it kills the
// old one at once; it is no credential anywhere but /scim/v2, and nothing else is one there.

let t: TestServer;
let a: Awaited<ReturnType<typeof scimOrg>>;
let b: Awaited<ReturnType<typeof scimOrg>>;
let uA: ScimUser;
let uB: ScimUser;
let gA: ScimGroup;
let gB: ScimGroup;

before(async () => {
  t = await testServer();
  a = await scimOrg(t, 'Org A Owner');
  b = await scimOrg(t, 'Org B Owner');
  uA = await a.idp.createUser(a.idp.email('a-user'));
  uB = await b.idp.createUser(b.idp.email('b-user'));
  gA = await a.idp.createGroup('Shared Name', [uA.id]);
  gB = await b.idp.createGroup('Shared Name', [uB.id]);
});
after(() => t.close());

describe('cross-org isolation', () => {
  it("org A's secret cannot read org B's users or groups: 404 and empty results", async () => {
    assertScimError(await a.idp.get(`/Users/${uB.id}`), 404);
    assertScimError(await a.idp.get(`/Groups/${gB.id}`), 404);
    assert.deepEqual(
      list<ScimUser>(await a.idp.get('/Users')).Resources.map((r) => r.id),
      [uA.id],
    );
    assert.deepEqual(
      list<ScimGroup>(await a.idp.get('/Groups')).Resources.map((r) => r.id),
      [gA.id],
    );
    assert.equal(list(await a.idp.filter('Users', `id eq "${uB.id}"`)).totalResults, 0);
    assert.equal(list(await a.idp.filter('Users', `userName eq "${uB.userName}"`)).totalResults, 0);
    assert.equal(list(await a.idp.filter('Groups', `members[value eq "${uB.id}"]`)).totalResults, 0);
    assert.equal(
      list<ScimGroup>(await a.idp.filter('Groups', `displayName eq "Shared Name"`)).Resources[0]!.id,
      gA.id,
    );
  });

  it("org A's secret cannot change org B's users or groups", async () => {
    assertScimError(
      await a.idp.patch(`/Users/${uB.id}`, [{ op: 'replace', path: 'active', value: false }]),
      404,
    );
    assertScimError(
      await a.idp.put(`/Users/${uB.id}`, { schemas: [USER], userName: uB.userName, active: false }),
      404,
    );
    assertScimError(await a.idp.delete(`/Users/${uB.id}`), 404);
    assertScimError(
      await a.idp.patch(`/Groups/${gB.id}`, [{ op: 'add', path: 'members', value: [{ value: uA.id }] }]),
      404,
    );
    assertScimError(await a.idp.delete(`/Groups/${gB.id}`), 404);
    // Nor pull B's user into A's group.
    assertScimError(
      await a.idp.patch(`/Groups/${gA.id}`, [{ op: 'add', path: 'members', value: [{ value: uB.id }] }]),
      400,
      'invalidValue',
    );
    assert.equal(((await b.idp.get(`/Users/${uB.id}`)).json() as ScimUser).active, true);
    assert.deepEqual(
      ((await b.idp.get(`/Groups/${gB.id}`)).json() as ScimGroup).members?.map((m) => m.value),
      [uB.id],
    );
  });

  it('the same person provisioned by two orgs is two resources over one account; each org changes only its own', async () => {
    const p = await stranger();
    // Their address is in neither org's domains: each org invites them, and they accept both.
    const inA = await a.idp.createUser(p.email);
    await acceptScimInvitation(t, p.client, p.email);
    const inB = await b.idp.createUser(p.email);
    await acceptScimInvitation(t, p.client, p.email);
    assert.notEqual(inA.id, inB.id);
    assert.equal(((await a.idp.get(`/Users/${inA.id}`)).json() as ScimUser).active, true);
    const off = await a.idp.patch(`/Users/${inA.id}`, [{ op: 'replace', path: 'active', value: false }]);
    assert.equal(off.statusCode, 200);
    assert.equal(((await b.idp.get(`/Users/${inB.id}`)).json() as ScimUser).active, true);
    const orgs = ((await p.client.get('/api/v1/me')).json() as { orgs: { id: string }[] }).orgs.map(
      (o) => o.id,
    );
    assert.ok(orgs.includes(b.owner.org.id) && !orgs.includes(a.owner.org.id) && orgs.includes(p.org.id));
  });

  it('answers the same 401 for a missing, malformed, foreign or unknown credential', async () => {
    const forged = `lk_scim_${'A'.repeat(43)}ABCDEF`;
    const pat = await mintPat(a.owner.client);
    for (const [what, headers] of [
      ['none', {}],
      ['malformed', { authorization: 'Bearer nope' }],
      ['bad checksum', { authorization: `Bearer ${forged}` }],
      ['basic', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }],
      ['a PAT', { authorization: `Bearer ${pat.token}` }],
      ['a session cookie', { cookie: `lk_session=${a.owner.client.cookie}` }],
    ] as const) {
      const res = await t.app.inject({ url: '/api/v1/scim/v2/Users', headers });
      assertScimError(res, 401, undefined, what);
      assert.match(String(res.headers['www-authenticate']), /^Bearer realm="latchkey-scim"/, what);
    }
  });

  it('a SCIM secret is no credential for the rest of the API', async () => {
    for (const url of ['/api/v1/me', '/api/v1/org/members', '/api/v1/org/scim']) {
      assertProblem(await bearer(t, a.idp.token, { url, org: a.owner.org.id }), 401, 'unauthorized', url);
    }
  });
});

describe('the SCIM secret', () => {
  it('is stored as SHA-256 only and never shown again', async () => {
    const row = await t.deps.db
      .selectFrom('scim_configs')
      .selectAll()
      .where('org_id', '=', a.owner.org.id)
      .executeTakeFirstOrThrow();
    assert.equal(row.token_hash, sha256Hex(a.idp.token));
    assert.ok(!JSON.stringify(row).includes(a.idp.token));
    const conn = await a.owner.client.get('/api/v1/org/scim', a.owner.org.id);
    assert.equal(conn.statusCode, 200);
    assert.ok(!conn.body.includes(a.idp.token));
    const c = conn.json();
    assert.equal(c.endpoint_url, 'http://localhost:8484/api/v1/scim/v2');
    assert.equal(c.token_exists, true);
    assert.equal(c.token_prefix, a.idp.token.slice(0, 'lk_scim_'.length + 8));
  });

  it('rotating kills the old secret at once; deleting turns SCIM off', async () => {
    const s = await scimOrg(t, 'Rotating Owner');
    assert.equal((await s.idp.get('/Users')).statusCode, 200);
    const next = await mintScimToken(s.owner.client, s.owner.org.id);
    assertScimError(await s.idp.get('/Users'), 401);
    const fresh = new Idp(t, next);
    assert.equal((await fresh.get('/Users')).statusCode, 200);
    const actions = (await auditRows(t, s.owner.org.id)).map((r) => [r.action, r.actor]);
    assert.deepEqual(
      actions.filter(([x]) => String(x).startsWith('scim.token')),
      [
        ['scim.token_created', `user:${s.owner.id}`],
        ['scim.token_rotated', `user:${s.owner.id}`],
      ],
    );
    assert.equal((await s.owner.client.delete('/api/v1/org/scim/token', s.owner.org.id)).statusCode, 204);
    assertScimError(await fresh.get('/Users'), 401);
    assert.equal((await s.owner.client.get('/api/v1/org/scim', s.owner.org.id)).json().token_exists, false);
    assertProblem(await s.owner.client.delete('/api/v1/org/scim/token', s.owner.org.id), 404, 'not_found');
  });

  it('records the last sync and its result', async () => {
    const s = await scimOrg(t, 'Sync Owner');
    const before = (await s.owner.client.get('/api/v1/org/scim', s.owner.org.id)).json();
    assert.equal(before.last_sync_at, null);
    assert.equal(before.last_sync_result, null);
    await s.idp.get(`/Users/${crypto.randomUUID()}`);
    const failed = (await s.owner.client.get('/api/v1/org/scim', s.owner.org.id)).json();
    assert.equal(failed.last_sync_result, 'failure');
    assert.equal(failed.last_sync_status, 404);
    assert.ok(failed.last_sync_at);
    await s.idp.get('/Users');
    const ok = (await s.owner.client.get('/api/v1/org/scim', s.owner.org.id)).json();
    assert.equal(ok.last_sync_result, 'success');
    assert.equal(ok.last_sync_status, 200);
  });

  it('is managed by admins and owners only', async () => {
    const s = await scimOrg(t, 'Roles Owner');
    const admin = await join(t, s.owner.client, s.owner.org.id, 'admin');
    const member = await join(t, s.owner.client, s.owner.org.id, 'member');
    const billing = await join(t, s.owner.client, s.owner.org.id, 'billing');
    for (const p of [member, billing]) {
      assertProblem(
        await p.client.post('/api/v1/org/scim/token', undefined, s.owner.org.id),
        403,
        'forbidden',
      );
      assertProblem(await p.client.get('/api/v1/org/scim', s.owner.org.id), 403, 'forbidden');
      assertProblem(await p.client.delete('/api/v1/org/scim/token', s.owner.org.id), 403, 'forbidden');
    }
    // An admin may rotate it.
    const next = await mintScimToken(admin.client, s.owner.org.id);
    assertScimError(await s.idp.get('/Users'), 401);
    assert.equal((await new Idp(t, next).get('/Users')).statusCode, 200);
  });
});

async function stranger() {
  const client = t.client();
  const { user, org } = await client.signup({ email: uniqueEmail('two-orgs') });
  return { client, id: user.id, email: user.email, org };
}
