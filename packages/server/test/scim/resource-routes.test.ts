import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestServer, testServer } from '../helpers/harness.js';
import { assertScimError, type Idp, PATCH_OP, type ScimGroup, type ScimUser, scimOrg } from './helpers.js';

// What every SCIM resource type answers alike, Users and Groups through one router. PATCH answers
// with the resource "subject to the attributes query parameter" (RFC 7644 §3.5.2, §3.9): a user
// PATCH used to ignore `attributes` / `excludedAttributes` (always the whole user, and a bad list
// was not refused) while a group PATCH honoured them.

let t: TestServer;
before(async () => {
  t = await testServer();
});
after(() => t.close());

const rename = (value: string) => ({
  schemas: [PATCH_OP],
  Operations: [{ op: 'replace', path: 'displayName', value }],
});

describe('one router for every resource type', () => {
  let idp: Idp;
  let u: ScimUser;
  let g: ScimGroup;
  before(async () => {
    idp = (await scimOrg(t, 'Router Owner')).idp;
    u = await idp.createUser(idp.email('router'));
    g = await idp.createGroup('Router Group', [u.id]);
  });

  for (const [resource, id] of [
    ['Users', () => u.id],
    ['Groups', () => g.id],
  ] as const) {
    it(`PATCH /${resource}/{id}?attributes= answers 200 with the selected attributes and the new ETag`, async () => {
      const res = await idp.req(
        'PATCH',
        `/${resource}/${id()}?attributes=displayName`,
        rename(`${resource} A`),
      );
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json() as Record<string, unknown>;
      assert.deepEqual(Object.keys(body).sort(), ['displayName', 'id', 'schemas']);
      assert.equal(body.displayName, `${resource} A`);
      const now = await idp.get(`/${resource}/${id()}`);
      assert.equal(res.headers.etag, now.headers.etag);
      assert.equal(res.headers.etag, (now.json() as { meta: { version: string } }).meta.version);
    });

    it(`PATCH /${resource}/{id}?excludedAttributes= leaves those attributes out`, async () => {
      const related = resource === 'Users' ? 'groups' : 'members';
      const res = await idp.req(
        'PATCH',
        `/${resource}/${id()}?excludedAttributes=${related},meta`,
        rename(`${resource} B`),
      );
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json() as Record<string, unknown>;
      assert.equal(body.displayName, `${resource} B`);
      assert.equal(body[related], undefined);
      assert.equal(body.meta, undefined);
      assert.equal(body.id, id());
    });

    it(`PATCH /${resource}/{id} with an attribute list that is not one → 400 invalidValue, and nothing is written`, async () => {
      const before = await idp.get(`/${resource}/${id()}`);
      const res = await idp.req(
        'PATCH',
        `/${resource}/${id()}?attributes=${encodeURIComponent('emails[type eq "work"]')}`,
        rename(`${resource} C`),
      );
      assertScimError(res, 400, 'invalidValue');
      const after = await idp.get(`/${resource}/${id()}`);
      assert.equal(after.headers.etag, before.headers.etag);
      assert.notEqual((after.json() as { displayName?: string }).displayName, `${resource} C`);
    });
  }

  it('without a projection, a user PATCH answers 200 with the whole user, a group PATCH 204 with its ETag', async () => {
    const user = await idp.req('PATCH', `/Users/${u.id}`, rename('Whole User'));
    assert.equal(user.statusCode, 200, user.body);
    const whole = user.json() as ScimUser;
    assert.equal(whole.userName, u.userName);
    assert.deepEqual(
      whole.groups?.map((x) => x.value),
      [g.id],
    );
    assert.equal(user.headers.etag, whole.meta.version);

    const group = await idp.req('PATCH', `/Groups/${g.id}`, rename('Whole Group'));
    assert.equal(group.statusCode, 204, group.body);
    assert.equal(group.body, '');
    const now = (await idp.get(`/Groups/${g.id}`)).json() as ScimGroup;
    assert.equal(now.displayName, 'Whole Group');
    assert.equal(group.headers.etag, now.meta.version);
  });
});
