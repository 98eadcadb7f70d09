import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestServer, testServer } from '../helpers/harness.js';
import { team } from '../orgs/helpers.js';
import { setTxt } from '../helpers/dns.js';
import { addDomain, uniqueDomain } from './helpers.js';

// Who may use /api/v1/org/sso: admins and owners read and change it; members and billing get 403
// forbidden, verifying a domain included (admins verify by DNS proof). Outsiders never reach another org's settings.

let t: TestServer;
before(async () => {
  t = await testServer();
});
after(async () => t.close());

describe('SSO settings API roles', () => {
  it('admin+ manage SSO and verify domains by DNS; member and billing are refused', async () => {
    const tm = await team(t);
    const org = tm.org.id;
    for (const role of ['member', 'billing'] as const) {
      const c = tm.people[role].client;
      for (const res of [
        await c.get('/api/v1/org/sso', org),
        await c.get('/api/v1/org/sso/connections', org),
        await c.get('/api/v1/org/sso/domains', org),
        await c.patch('/api/v1/org/sso', { sso_enforced: false }, org),
        await c.post('/api/v1/org/sso/domains', { domain: uniqueDomain() }, org),
        await c.post(
          '/api/v1/org/sso/connections',
          { kind: 'saml', name: 'x', saml_metadata_xml: '<a/>' },
          org,
        ),
      ]) {
        assert.equal(res.statusCode, 403, `${role}: ${res.body}`);
        assert.equal(res.json().code, 'forbidden');
      }
    }
    const admin = tm.people.admin.client;
    const domain = uniqueDomain();
    const challenge = await addDomain(admin, org, domain);
    setTxt(challenge.name, [challenge.value]);
    for (const role of ['member', 'billing'] as const) {
      const res = await tm.people[role].client.post(
        `/api/v1/org/sso/domains/${domain}/verify`,
        undefined,
        org,
      );
      assert.equal(res.statusCode, 403, `${role}: ${res.body}`);
      assert.equal(res.json().code, 'forbidden');
    }
    const byAdmin = await admin.post(`/api/v1/org/sso/domains/${domain}/verify`, undefined, org);
    assert.equal(byAdmin.statusCode, 200, byAdmin.body);
    assert.equal(byAdmin.json().verified, true);
    const settings = await admin.patch(
      '/api/v1/org/sso',
      { status_page_url: 'https://status.example/' },
      org,
    );
    assert.equal(settings.statusCode, 200, settings.body);
    assert.equal(settings.json().enforcement_active, false, 'no connection enabled yet');

    // Another org's admin cannot reach this org's connections, even by id.
    const saml = await admin.post(
      '/api/v1/org/sso/connections',
      { kind: 'saml', name: 'S', saml_metadata_xml: '<a/>' },
      org,
    );
    assert.equal(saml.statusCode, 201, saml.body);
    const other = await team(t);
    const peek = await other.people.owner.client.get(
      `/api/v1/org/sso/connections/${saml.json().id}`,
      other.org.id,
    );
    assert.equal(peek.statusCode, 404);
    const cross = await other.people.owner.client.get('/api/v1/org/sso', org);
    assert.equal(cross.statusCode, 403);
    assert.equal(cross.json().code, 'org_forbidden');
  });

  it('a SAML connection whose metadata does not parse fails its test and cannot be enabled', async () => {
    const tm = await team(t);
    const c = tm.people.admin.client;
    const created = await c.post(
      '/api/v1/org/sso/connections',
      { kind: 'saml', name: 'Broken', saml_metadata_xml: '<not-metadata/>' },
      tm.org.id,
    );
    const id = created.json().id;
    const test = await c.post(`/api/v1/org/sso/connections/${id}/test`, undefined, tm.org.id);
    assert.equal(test.json().test.result, 'fail');
    const on = await c.patch(`/api/v1/org/sso/connections/${id}`, { enabled: true }, tm.org.id);
    assert.equal(on.statusCode, 409);
    assert.equal(on.json().code, 'sso_untested');
  });
});
