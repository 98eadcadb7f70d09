import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestServer, testServer } from '../helpers/harness.js';
import {
  assertScimError,
  GROUP,
  type Idp,
  LK_GROUP,
  LK_USER,
  list,
  type ScimUser,
  scimOrg,
  USER,
} from './helpers.js';

// What a SCIM request may and may not do: uniqueness, the error types of RFC 7644 §3.12,
// versions, and the discovery documents.

let t: TestServer;
before(async () => {
  t = await testServer();
});
after(() => t.close());

describe('resource rules', () => {
  let idp: Idp;
  before(async () => {
    idp = (await scimOrg(t, 'Rules Owner')).idp;
  });

  it('refuses a second user with the same userName (409 uniqueness), and a second group with the same name', async () => {
    const email = idp.email('dup');
    await idp.createUser(email);
    const again = await idp.post('/Users', { schemas: [USER], userName: email.toUpperCase() });
    assertScimError(again, 409, 'uniqueness');
    await idp.createGroup('Dup Group');
    assertScimError(
      await idp.post('/Groups', { schemas: [GROUP], displayName: 'dup group' }),
      409,
      'uniqueness',
    );
  });

  it('refuses bad bodies with the SCIM error types', async () => {
    assertScimError(await idp.post('/Users', { userName: idp.email() }), 400, 'invalidSyntax');
    assertScimError(await idp.post('/Users', { schemas: [USER] }), 400, 'invalidValue');
    assertScimError(
      await idp.post('/Users', { schemas: [USER], userName: 'not an email' }),
      400,
      'invalidValue',
    );
    assertScimError(
      await idp.post('/Users', { schemas: [USER], userName: idp.email(), active: 'perhaps' }),
      400,
      'invalidValue',
    );
    assertScimError(await idp.post('/Users', '{"schemas":'), 400, 'invalidSyntax');
    assertScimError(await idp.post('/Users', [1, 2]), 400, 'invalidSyntax');
    assertScimError(
      await idp.post('/Groups', { schemas: [GROUP], displayName: 'x', members: [{ value: 'nope' }] }),
      400,
      'invalidValue',
    );
    assertScimError(
      await idp.post('/Groups', {
        schemas: [GROUP],
        displayName: 'x',
        members: [{ value: crypto.randomUUID() }],
      }),
      400,
      'invalidValue',
    );
    assertScimError(
      await idp.post('/Groups', { schemas: [GROUP], displayName: 'y', [LK_GROUP]: { role: 'owner' } }),
      400,
      'invalidValue',
    );
    const xml = await idp.req('POST', '/Users', '<User/>', { 'content-type': 'application/xml' });
    assertScimError(xml, 415);
  });

  it('refuses PATCH that is malformed, read-only or impossible, with the RFC 7644 scimType', async () => {
    const u = await idp.createUser(idp.email('patchrules'));
    const patch = (body: unknown) => idp.req('PATCH', `/Users/${u.id}`, body);
    assertScimError(
      await patch({ Operations: [{ op: 'add', path: 'displayName', value: 'x' }] }),
      400,
      'invalidSyntax',
    );
    assertScimError(await idp.patch(`/Users/${u.id}`, []), 400, 'invalidSyntax');
    assertScimError(
      await idp.patch(`/Users/${u.id}`, [{ op: 'move', path: 'displayName' }]),
      400,
      'invalidSyntax',
    );
    assertScimError(
      await idp.patch(`/Users/${u.id}`, [{ op: 'replace', path: 'displayName' }]),
      400,
      'invalidSyntax',
    );
    assertScimError(await idp.patch(`/Users/${u.id}`, [{ op: 'remove' }]), 400, 'noTarget');
    assertScimError(
      await idp.patch(`/Users/${u.id}`, [{ op: 'replace', path: 'emails[type eq "work"', value: 'x' }]),
      400,
      'invalidPath',
    );
    assertScimError(
      await idp.patch(`/Users/${u.id}`, [{ op: 'replace', path: 'displayName[value eq "x"]', value: 'x' }]),
      400,
      'invalidPath',
    );
    assertScimError(
      await idp.patch(`/Users/${u.id}`, [{ op: 'replace', path: 'id', value: crypto.randomUUID() }]),
      400,
      'mutability',
    );
    assertScimError(
      await idp.patch(`/Users/${u.id}`, [{ op: 'add', path: 'groups', value: [{ value: 'x' }] }]),
      400,
      'mutability',
    );
    assertScimError(
      await idp.patch(`/Users/${u.id}`, [{ op: 'replace', path: `${LK_USER}:role`, value: 'admin' }]),
      400,
      'mutability',
    );
    assertScimError(
      await idp.patch(`/Users/${u.id}`, [
        { op: 'replace', path: 'emails[type eq "other" or type eq "home"].value', value: 'x@y.z' },
      ]),
      400,
      'noTarget',
      'no value matches and the filter does not say what to create',
    );
    // Restating userName in another case changes nothing (renaming is the org's own record: takeover.test.ts).
    const same = await idp.patch(`/Users/${u.id}`, [
      { op: 'replace', path: 'userName', value: u.userName.toUpperCase() },
    ]);
    assert.equal(same.statusCode, 200, same.body);
    // Nothing of the above changed the user.
    assert.equal(((await idp.get(`/Users/${u.id}`)).json() as ScimUser).meta.version, u.meta.version);
  });

  it('honours If-Match: a stale version → 412, the current one passes', async () => {
    const u = await idp.createUser(idp.email('etag'));
    const stale = await idp.req(
      'PATCH',
      `/Users/${u.id}`,
      {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'displayName', value: 'x' }],
      },
      { 'if-match': 'W/"999"' },
    );
    assertScimError(stale, 412);
    const ok = await idp.req('DELETE', `/Users/${u.id}`, undefined, { 'if-match': u.meta.version });
    assert.equal(ok.statusCode, 204, ok.body);
  });

  it('serves the discovery documents', async () => {
    const spc = await idp.get('/ServiceProviderConfig');
    assert.equal(spc.statusCode, 200);
    const c = spc.json();
    assert.equal(c.patch.supported, true);
    assert.equal(c.filter.supported, true);
    assert.equal(c.sort.supported, false);
    assert.equal(c.bulk.supported, false);
    assert.equal(c.etag.supported, true);
    const types = list<{ id: string; endpoint: string; schemaExtensions: { schema: string }[] }>(
      await idp.get('/ResourceTypes'),
    );
    assert.deepEqual(
      types.Resources.map((r) => [r.id, r.endpoint]),
      [
        ['User', '/Users'],
        ['Group', '/Groups'],
      ],
    );
    assert.equal((await idp.get('/ResourceTypes/User')).statusCode, 200);
    const schemas = list<{ id: string; attributes: { name: string }[] }>(await idp.get('/Schemas'));
    const user = schemas.Resources.find((s) => s.id === USER)!;
    assert.ok(user.attributes.some((a) => a.name === 'userName'));
    assert.equal((await idp.get(`/Schemas/${USER}`)).statusCode, 200);
    assertScimError(await idp.get('/Schemas/urn:nope'), 404);
    assertScimError(await idp.get('/Bulk'), 404);
  });
});
