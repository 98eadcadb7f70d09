import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Client, type TestServer, testServer, uniqueEmail } from '../helpers/harness.js';
import { OAUTH_TOML, introspect, tokensFor } from '../oauth/helpers.js';
import { assertProblem, rolesIn } from '../orgs/helpers.js';
import { bearer, mintPat } from '../tokens/helpers.js';
import {
  acceptScimInvitation,
  assertScimError,
  auditRows,
  type Idp,
  LK_GROUP,
  LK_USER,
  type ScimUser,
  scimOrg,
} from './helpers.js';

// Deprovisioning ends what a person holds in the provisioning org at once — the session's access
// to it, PATs used there, OAuth tokens bound to it — and nothing of theirs elsewhere. Groups
// mapped to roles set the role; owners are never touched.

let t: TestServer;
let org: { id: string };
let owner: Client;
let idp: Idp;

before(async () => {
  t = await testServer({ toml: OAUTH_TOML });
  const s = await scimOrg(t, 'Deprovision Owner');
  org = s.owner.org;
  owner = s.owner.client;
  idp = s.idp;
});
after(() => t.close());

/** A person with their own account and personal org, signed in. */
async function person(tag: string) {
  const client = t.client();
  const { user, org: home } = await client.signup({ email: uniqueEmail(tag), name: tag });
  return { client, id: user.id, email: user.email, home };
}

const asOrg = (c: Client, orgId: string) => c.get('/api/v1/org', orgId);

/**
 * Provisions a person whose address is outside the org's verified domains: SCIM creates a pending
 * record and mails an invitation; the person accepts it and the record turns active.
 */
async function provision(p: { client: Client; email: string }): Promise<ScimUser> {
  const pending = await idp.createUser(p.email);
  assert.equal(pending.active, false);
  await acceptScimInvitation(t, p.client, p.email);
  const res = await idp.get(`/Users/${pending.id}`);
  assert.equal(res.statusCode, 200, res.body);
  const u = res.json() as ScimUser;
  assert.equal(u.active, true);
  return u;
}

describe('deprovisioning', () => {
  it('kills the person’s session, PAT and OAuth tokens in this org at once; their other org is untouched', async () => {
    const p = await person('leaver');
    // SCIM provisions an existing account: once they accept, it gains a membership, nothing more.
    const u = await provision(p);
    assert.equal((await asOrg(p.client, org.id)).statusCode, 200);
    const pat = await mintPat(p.client);
    assert.equal((await bearer(t, pat.token, { url: '/api/v1/org', org: org.id })).statusCode, 200);
    const inOrg = await tokensFor(t, p.client, { org: org.id });
    const atHome = await tokensFor(t, p.client, { org: p.home.id });
    assert.equal((await introspect(t, inOrg.tokens.access_token)).json().active, true);

    // Entra's disable.
    const off = await idp.patch(`/Users/${u.id}`, [{ op: 'Replace', path: 'active', value: 'False' }]);
    assert.equal(off.statusCode, 200, off.body);

    assertProblem(await asOrg(p.client, org.id), 403, 'org_forbidden');
    assertProblem(await bearer(t, pat.token, { url: '/api/v1/org', org: org.id }), 403, 'org_forbidden');
    assert.equal((await introspect(t, inOrg.tokens.access_token)).json().active, false);
    assert.equal((await introspect(t, inOrg.tokens.refresh_token!)).json().active, false);
    // Everything of theirs outside this org still works.
    assert.equal((await asOrg(p.client, p.home.id)).statusCode, 200);
    assert.equal((await bearer(t, pat.token, { url: '/api/v1/org', org: p.home.id })).statusCode, 200);
    assert.equal((await introspect(t, atHome.tokens.access_token)).json().active, true);
    assert.equal((await p.client.get('/api/v1/me')).statusCode, 200);

    const removed = (await auditRows(t, org.id)).find(
      (r) => r.action === 'member.removed' && r.target === `user:${p.id}`,
    );
    assert.equal(removed?.actor, 'scim');
    assert.equal((removed?.data as { oauth_tokens_revoked: number }).oauth_tokens_revoked, 2);

    // Reactivation restores the membership; tokens revoked on the way out stay revoked.
    const on = await idp.patch(`/Users/${u.id}`, [{ op: 'Replace', path: 'active', value: 'True' }]);
    assert.equal((on.json() as ScimUser).active, true);
    assert.equal((await asOrg(p.client, org.id)).statusCode, 200);
    assert.equal((await introspect(t, inOrg.tokens.access_token)).json().active, false);

    // DELETE removes the membership again; the account and its own org remain.
    assert.equal((await idp.delete(`/Users/${u.id}`)).statusCode, 204);
    assertProblem(await asOrg(p.client, org.id), 403, 'org_forbidden');
    assert.equal((await asOrg(p.client, p.home.id)).statusCode, 200);
  });

  it('never changes an owner: deprovisioning or deleting one is refused', async () => {
    const me = ((await owner.get('/api/v1/me')).json() as { user: { email: string; id: string } }).user;
    const u = await idp.createUser(me.email);
    assert.equal(u[LK_USER]?.role, 'owner', 'an existing member keeps their role');
    assertScimError(await idp.patch(`/Users/${u.id}`, [{ op: 'replace', value: { active: false } }]), 403);
    assertScimError(await idp.delete(`/Users/${u.id}`), 403);
    assert.equal((await rolesIn(owner, org.id))[me.id], 'owner');
    assert.equal(((await idp.get(`/Users/${u.id}`)).json() as ScimUser).active, true);
    // An admin-mapped group does not demote or promote an owner either.
    const g = await idp.createGroup(`Owners Too ${Date.now()}`, [u.id], { [LK_GROUP]: { role: 'billing' } });
    assert.equal((await rolesIn(owner, org.id))[me.id], 'owner');
    assert.equal((await idp.delete(`/Groups/${g.id}`)).statusCode, 204);
  });

  it('a user created inactive gets no membership until active=true', async () => {
    const email = idp.email('starts-off');
    const u = await idp.createUser(email, { active: false });
    assert.equal(u.active, false);
    const acct = await t.deps.db
      .selectFrom('users')
      .select('id')
      .where('email', '=', email)
      .executeTakeFirstOrThrow();
    assert.equal((await rolesIn(owner, org.id))[acct.id], undefined);
    await idp.patch(`/Users/${u.id}`, [{ op: 'replace', path: 'active', value: true }]);
    assert.equal((await rolesIn(owner, org.id))[acct.id], 'member');
  });
});

describe('groups mapped to roles', () => {
  it('gives members the highest mapped role, re-evaluated on every membership change', async () => {
    const p = await person('climber');
    const u = await provision(p);
    const role = async () => (await rolesIn(owner, org.id))[p.id];
    const mine = async () =>
      ((await p.client.get('/api/v1/me')).json() as { orgs: { id: string; role: string }[] }).orgs.find(
        (o) => o.id === org.id,
      )?.role;
    assert.equal(await role(), 'member');

    const admins = await idp.createGroup('Admins', [], { [LK_GROUP]: { role: 'admin' } });
    assert.equal(admins[LK_GROUP]?.role, 'admin');
    const billing = await idp.createGroup('Billing');
    // An admin maps the second group through the management API.
    const mapped = await owner.patch(`/api/v1/org/scim/groups/${billing.id}`, { role: 'billing' }, org.id);
    assert.equal(mapped.statusCode, 200, mapped.body);
    assert.equal(mapped.json().role, 'billing');

    await idp.patch(`/Groups/${billing.id}`, [{ op: 'add', path: 'members', value: [{ value: u.id }] }]);
    assert.equal(await role(), 'billing');
    await idp.patch(`/Groups/${admins.id}`, [{ op: 'add', path: 'members', value: [{ value: u.id }] }]);
    assert.equal(await role(), 'admin', 'the highest mapped role wins');
    assert.equal(await mine(), 'admin', 'the person sees it at once');
    // The admin can now act as one.
    assert.equal((await p.client.get('/api/v1/org/scim', org.id)).statusCode, 200);

    await idp.patch(`/Groups/${admins.id}`, [{ op: 'remove', path: `members[value eq "${u.id}"]` }]);
    assert.equal(await role(), 'billing');
    assertProblem(await p.client.get('/api/v1/org/scim', org.id), 403, 'forbidden');

    // Unmapping through the SCIM extension, then deleting the group, falls back to member.
    await idp.patch(`/Groups/${billing.id}`, [{ op: 'remove', path: `${LK_GROUP}:role` }]);
    assert.equal(await role(), 'member');
    await idp.patch(`/Groups/${billing.id}`, [{ op: 'replace', path: `${LK_GROUP}:role`, value: 'billing' }]);
    assert.equal(await role(), 'billing');
    assert.equal((await idp.delete(`/Groups/${billing.id}`)).statusCode, 204);
    assert.equal(await role(), 'member');

    const changes = (await auditRows(t, org.id))
      .filter((r) => r.action === 'member.role_changed' && r.target === `user:${p.id}`)
      .map((r) => `${r.actor} ${(r.data as { from: string }).from}→${(r.data as { to: string }).to}`);
    assert.deepEqual(changes, [
      'scim member→billing',
      'scim billing→admin',
      'scim admin→billing',
      'scim billing→member',
      'scim member→billing',
      'scim billing→member',
    ]);
    const set = (await auditRows(t, org.id)).find((r) => r.action === 'scim.group_role_set');
    assert.match(String(set?.actor), /^user:/);
  });

  it('mapping a group re-evaluates its members; reactivation takes the mapped role', async () => {
    const p = await person('mapped');
    const u = await provision(p);
    const g = await idp.createGroup('Later Admins', [u.id]);
    assert.equal((await rolesIn(owner, org.id))[p.id], 'member');
    await owner.patch(`/api/v1/org/scim/groups/${g.id}`, { role: 'admin' }, org.id);
    assert.equal((await rolesIn(owner, org.id))[p.id], 'admin');
    await idp.patch(`/Users/${u.id}`, [{ op: 'replace', path: 'active', value: false }]);
    assert.equal((await rolesIn(owner, org.id))[p.id], undefined);
    await idp.patch(`/Users/${u.id}`, [{ op: 'replace', path: 'active', value: true }]);
    assert.equal((await rolesIn(owner, org.id))[p.id], 'admin');
    const listed = await owner.get('/api/v1/org/scim/groups', org.id);
    assert.equal(listed.statusCode, 200);
    const row = (listed.json() as { data: { id: string; role: string; members: number }[] }).data.find(
      (x) => x.id === g.id,
    );
    assert.deepEqual([row?.role, row?.members], ['admin', 1]);
  });

  it('the management API refuses non-admins, unknown groups and the owner role', async () => {
    const g = await idp.createGroup(`Guarded ${Date.now()}`);
    const p = await person('plain');
    await provision(p);
    assertProblem(
      await p.client.patch(`/api/v1/org/scim/groups/${g.id}`, { role: 'admin' }, org.id),
      403,
      'forbidden',
    );
    assertProblem(
      await owner.patch(`/api/v1/org/scim/groups/${crypto.randomUUID()}`, { role: 'admin' }, org.id),
      404,
      'not_found',
    );
    assertProblem(
      await owner.patch(`/api/v1/org/scim/groups/${g.id}`, { role: 'owner' }, org.id),
      400,
      'invalid_request',
    );
    assertScimError(
      await idp.patch(`/Groups/${g.id}`, [{ op: 'replace', path: `${LK_GROUP}:role`, value: 'owner' }]),
      400,
      'invalidValue',
    );
  });
});
