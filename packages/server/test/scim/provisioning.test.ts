import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestServer, testServer } from '../helpers/harness.js';
import { rolesIn } from '../orgs/helpers.js';
import {
  assertScimError,
  auditRows,
  GROUP,
  type Idp,
  LK_GROUP,
  LK_USER,
  list,
  type ScimGroup,
  type ScimUser,
  scimOrg,
  USER,
} from './helpers.js';

// The calls Okta and Microsoft Entra make when they provision an app, in their order and with
// their quirks (Entra: capitalised ops, string booleans, filter paths; Okta: value objects, PUT).

let t: TestServer;
before(async () => {
  t = await testServer();
});
after(() => t.close());

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

describe('Microsoft Entra provisioning cycle', () => {
  let idp: Idp;
  let ownerOrg: string;
  let ownerClient: import('../helpers/harness.js').Client;
  before(async () => {
    const s = await scimOrg(t, 'Entra Org Owner');
    idp = s.idp;
    ownerOrg = s.owner.org.id;
    ownerClient = s.owner.client;
  });

  it('checks existence by userName, creates, patches the way Entra does, disables, deletes', async () => {
    const email = idp.email('entra');
    // Entra's connection test and every create start with a lookup.
    const none = list<ScimUser>(await idp.filter('Users', `userName eq "${email}"`));
    assert.equal(none.totalResults, 0);
    assert.deepEqual(none.Resources, []);

    const created = await idp.post('/Users', {
      schemas: [USER, ENTERPRISE],
      externalId: 'entra-object-id-1',
      userName: email,
      active: true,
      displayName: 'Ada Lovelace',
      emails: [{ primary: true, type: 'work', value: email }],
      meta: { resourceType: 'User' },
      name: { formatted: 'Ada Lovelace', familyName: 'Lovelace', givenName: 'Ada' },
      [ENTERPRISE]: { department: 'Engines', employeeNumber: '1815' },
      title: 'Countess',
    });
    assert.equal(created.statusCode, 201, created.body);
    assert.match(String(created.headers['content-type']), /^application\/scim\+json/);
    const u = created.json() as ScimUser;
    assert.equal(created.headers.location, u.meta.location);
    assert.equal(created.headers.etag, u.meta.version);
    assert.equal(u.userName, email);
    assert.equal(u.externalId, 'entra-object-id-1');
    assert.equal(u.active, true);
    assert.equal(u[LK_USER]?.role, 'member');
    assert.equal(u.meta.resourceType, 'User');
    assert.ok(!('title' in u) && !(ENTERPRISE in u), 'attributes Latchkey does not keep are not echoed');

    // The lookup now finds exactly that user, whatever the case of the address.
    const found = list<ScimUser>(await idp.filter('Users', `userName eq "${email.toUpperCase()}"`));
    assert.equal(found.totalResults, 1);
    assert.equal(found.Resources[0]!.id, u.id);

    // The person is a member of the org now.
    const acct = await t.deps.db
      .selectFrom('users')
      .select('id')
      .where('email', '=', email)
      .executeTakeFirstOrThrow();
    assert.equal((await rolesIn(ownerClient, ownerOrg))[acct.id], 'member');

    // Entra's attribute updates: capitalised ops, a filter path with a sub-attribute.
    const patched = await idp.patch(`/Users/${u.id}`, [
      { op: 'Replace', path: 'displayName', value: 'Ada King' },
      { op: 'Replace', path: 'name.familyName', value: 'King' },
      { op: 'Add', path: 'emails[type eq "work"].value', value: email },
      { op: 'Add', path: 'emails[type eq "home"].value', value: 'ada@home.example' },
      { op: 'Replace', path: 'externalId', value: 'entra-object-id-1' },
      { op: 'Add', path: `${ENTERPRISE}:manager`, value: { value: 'someone' } },
    ]);
    assert.equal(patched.statusCode, 200, patched.body);
    const p = patched.json() as ScimUser;
    assert.equal(p.displayName, 'Ada King');
    assert.equal(p.name?.familyName, 'King');
    assert.equal(p.name?.givenName, 'Ada');
    assert.deepEqual(
      p.emails?.map((e) => [e.type, e.value]),
      [
        ['work', email],
        ['home', 'ada@home.example'],
      ],
    );
    assert.notEqual(p.meta.version, u.meta.version);

    // Disable: {"op":"Replace","path":"active","value":"False"} — a string boolean.
    const off = await idp.patch(`/Users/${u.id}`, [{ op: 'Replace', path: 'active', value: 'False' }]);
    assert.equal(off.statusCode, 200, off.body);
    assert.equal((off.json() as ScimUser).active, false);
    assert.equal((off.json() as ScimUser)[LK_USER]?.role, null);
    assert.equal((await rolesIn(ownerClient, ownerOrg))[acct.id], undefined, 'membership removed');
    const filtered = list<ScimUser>(await idp.filter('Users', `userName eq "${email}" and active eq false`));
    assert.equal(filtered.totalResults, 1, 'the disabled user is still a SCIM resource');

    // Delete: the resource goes, the account stays.
    const del = await idp.delete(`/Users/${u.id}`);
    assert.equal(del.statusCode, 204, del.body);
    assertScimError(await idp.get(`/Users/${u.id}`), 404);
    assert.equal(list<ScimUser>(await idp.filter('Users', `userName eq "${email}"`)).totalResults, 0);
    assert.ok(await t.deps.db.selectFrom('users').select('id').where('id', '=', acct.id).executeTakeFirst());

    const actions = (await auditRows(t, ownerOrg)).filter((r) => r.actor === 'scim').map((r) => r.action);
    for (const a of [
      'user.created',
      'member.added',
      'scim.user_created',
      'scim.user_updated',
      'member.removed',
      'scim.user_deactivated',
      'scim.user_deleted',
    ])
      assert.ok(actions.includes(a), `audited ${a}: ${actions.join(', ')}`);
  });

  it('creates a group, adds members, removes one with members[value eq "…"], checks with a value filter', async () => {
    const a = await idp.createUser(idp.email('entra-a'));
    const b = await idp.createUser(idp.email('entra-b'));
    const none = list<ScimGroup>(
      await idp.filter('Groups', 'displayName eq "Engineering"', '&excludedAttributes=members'),
    );
    assert.equal(none.totalResults, 0);
    const g = await idp.createGroup('Engineering', [], { externalId: 'entra-group-1' });
    assert.deepEqual(g.members, []);

    const add = await idp.patch(`/Groups/${g.id}`, [
      { op: 'Add', path: 'members', value: [{ value: a.id }, { value: b.id }] },
    ]);
    assert.equal(add.statusCode, 204, add.body);
    assert.equal(add.body, '');

    // Entra checks membership with a value filter.
    const check = list<ScimGroup>(
      await idp.filter(
        'Groups',
        `id eq "${g.id}" and members[value eq "${b.id}"]`,
        '&excludedAttributes=members',
      ),
    );
    assert.equal(check.totalResults, 1);
    assert.equal(check.Resources[0]!.members, undefined, 'excludedAttributes=members leaves them out');

    const rm = await idp.patch(`/Groups/${g.id}`, [{ op: 'Remove', path: `members[value eq "${b.id}"]` }]);
    assert.equal(rm.statusCode, 204, rm.body);
    const after = (await idp.get(`/Groups/${g.id}`)).json() as ScimGroup;
    assert.deepEqual(
      after.members?.map((m) => m.value),
      [a.id],
    );
    assert.equal(after.members?.[0]?.display, a.userName);
    assert.equal(
      list<ScimGroup>(await idp.filter('Groups', `id eq "${g.id}" and members[value eq "${b.id}"]`))
        .totalResults,
      0,
    );
    // Entra's other form of removal: the values to remove, with a plain path.
    const rm2 = await idp.patch(`/Groups/${g.id}`, [
      { op: 'Remove', path: 'members', value: [{ value: a.id }] },
    ]);
    assert.equal(rm2.statusCode, 204, rm2.body);
    assert.deepEqual(((await idp.get(`/Groups/${g.id}`)).json() as ScimGroup).members, []);
    // The user's groups attribute follows.
    assert.deepEqual(((await idp.get(`/Users/${a.id}`)).json() as ScimUser).groups, []);
  });
});

describe('Okta provisioning cycle', () => {
  let idp: Idp;
  let ownerOrg: string;
  let ownerClient: import('../helpers/harness.js').Client;
  before(async () => {
    const s = await scimOrg(t, 'Okta Org Owner');
    idp = s.idp;
    ownerOrg = s.owner.org.id;
    ownerClient = s.owner.client;
  });

  it('looks up with pagination, creates, reads, replaces with PUT, deactivates with a value object, reactivates', async () => {
    const email = idp.email('okta');
    const none = list<ScimUser>(
      await idp.get(`/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}&startIndex=1&count=100`),
    );
    assert.equal(none.totalResults, 0);
    assert.equal(none.startIndex, 1);

    const res = await idp.post('/Users', {
      schemas: [USER],
      userName: email,
      name: { givenName: 'Grace', familyName: 'Hopper' },
      emails: [{ primary: true, value: email, type: 'work' }],
      displayName: 'Grace Hopper',
      locale: 'en-US',
      externalId: '00u1okta',
      groups: [],
      password: 'never stored',
      active: true,
    });
    assert.equal(res.statusCode, 201, res.body);
    const u = res.json() as ScimUser;
    assert.ok(!res.body.includes('never stored'));
    const acct = await t.deps.db
      .selectFrom('users')
      .select(['id', 'name', 'password_hash'])
      .where('email', '=', email)
      .executeTakeFirstOrThrow();
    assert.equal(acct.password_hash, null, 'a SCIM password is not a Latchkey password');
    assert.equal(acct.name, 'Grace Hopper');

    const got = await idp.get(`/Users/${u.id}`);
    assert.equal(got.statusCode, 200);
    assert.equal(got.headers.etag, u.meta.version);

    // PUT replaces: what is left out is cleared.
    const put = await idp.put(`/Users/${u.id}`, {
      schemas: [USER],
      id: u.id,
      userName: email,
      name: { givenName: 'Grace', familyName: 'Murray Hopper' },
      emails: [{ primary: true, value: email, type: 'work' }],
      active: true,
    });
    assert.equal(put.statusCode, 200, put.body);
    const r = put.json() as ScimUser;
    assert.equal(r.name?.familyName, 'Murray Hopper');
    assert.equal(r.displayName, undefined);
    assert.equal(r.externalId, undefined);
    assert.equal(r.id, u.id);

    // Okta's deactivation: a path-less replace with a value object.
    const off = await idp.patch(`/Users/${u.id}`, [{ op: 'replace', value: { active: false } }]);
    assert.equal(off.statusCode, 200, off.body);
    assert.equal((off.json() as ScimUser).active, false);
    assert.equal((await rolesIn(ownerClient, ownerOrg))[acct.id], undefined);

    const on = await idp.patch(`/Users/${u.id}`, [{ op: 'replace', value: { active: true } }]);
    assert.equal(on.statusCode, 200, on.body);
    assert.equal((on.json() as ScimUser).active, true);
    assert.equal(
      (await rolesIn(ownerClient, ownerOrg))[acct.id],
      'member',
      'active=true restores the membership',
    );
  });

  it('pushes a group: create, add members, remove one with a filter path, rename, delete', async () => {
    const a = await idp.createUser(idp.email('okta-a'));
    const b = await idp.createUser(idp.email('okta-b'));
    const g = await idp.createGroup('Okta Push', []);
    const add = await idp.patch(`/Groups/${g.id}`, [
      {
        op: 'add',
        path: 'members',
        value: [
          { value: a.id, display: a.userName },
          { value: b.id, display: b.userName },
        ],
      },
    ]);
    assert.equal(add.statusCode, 204, add.body);
    const rm = await idp.patch(`/Groups/${g.id}`, [{ op: 'remove', path: `members[value eq "${a.id}"]` }]);
    assert.equal(rm.statusCode, 204, rm.body);
    const rename = await idp.req('PATCH', `/Groups/${g.id}?excludedAttributes=members`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', value: { id: g.id, displayName: 'Okta Push Renamed' } }],
    });
    assert.equal(rename.statusCode, 200, rename.body);
    assert.equal((rename.json() as ScimGroup).displayName, 'Okta Push Renamed');
    const full = (await idp.get(`/Groups/${g.id}`)).json() as ScimGroup;
    assert.deepEqual(
      full.members?.map((m) => m.value),
      [b.id],
    );
    assert.deepEqual(
      ((await idp.get(`/Users/${b.id}`)).json() as ScimUser).groups?.map((x) => x.display),
      ['Okta Push Renamed'],
    );

    // PUT replaces the whole group, members included.
    const put = await idp.put(`/Groups/${g.id}`, {
      schemas: [GROUP],
      displayName: 'Okta Push Renamed',
      members: [{ value: a.id }],
    });
    assert.equal(put.statusCode, 200, put.body);
    assert.deepEqual(
      (put.json() as ScimGroup).members?.map((m) => m.value),
      [a.id],
    );

    assert.equal((await idp.delete(`/Groups/${g.id}`)).statusCode, 204);
    assertScimError(await idp.get(`/Groups/${g.id}`), 404);
    // The users are still there.
    assert.equal((await idp.get(`/Users/${a.id}`)).statusCode, 200);
  });
});
