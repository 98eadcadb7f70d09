import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ACCOUNT_SCOPES,
  ERROR_CODES,
  type Me,
  ORG_KEY_SCOPES,
  PAT_SCOPES,
  PERMISSIONS,
  type Problem,
  ROLES,
} from '@latchkey/contract';
import { PROBLEMS, problemBody } from '../../src/errors.js';
import { ROLE_PERMISSIONS } from '../../src/orgs/roles.js';
import { API_SCOPES, scopesForRole } from '../../src/tokens/scopes.js';
import { type TestServer, testServer } from '../helpers/harness.js';
import { team } from '../orgs/helpers.js';
import { bearer } from '../tokens/helpers.js';

/**
 * `@latchkey/contract` is what the CLI and the dashboard believe the server sends: its lists must be
 * the server's own, and the answers must stay inside them.
 */

const sorted = (xs: Iterable<string>) => [...xs].sort();

let t: TestServer;
let doc: {
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content: Record<string, { schema: unknown }> }> }>
  >;
};
before(async () => {
  t = await testServer();
  doc = (await t.app.inject({ url: '/api/openapi.json' })).json();
});
after(() => t.close());

/** A JSON schema as the OpenAPI document prints it, walked by property names. */
type Schema = {
  properties?: Record<string, Schema>;
  items?: Schema;
  anyOf?: Schema[];
  enum?: unknown[];
};
const meOrg = (): Schema => {
  const me = doc.paths['/api/v1/me']!.get!.responses['200']!.content['application/json']!.schema as Schema;
  return me.properties!.orgs!.items!;
};

describe('the problem codes', () => {
  it('are the keys of the server’s problem table, each once', () => {
    assert.deepEqual(sorted(Object.keys(PROBLEMS)), sorted(ERROR_CODES));
    assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length);
  });

  it('are what a problem body carries, as the contract’s Problem', () => {
    for (const code of ERROR_CODES) {
      const body: Problem = problemBody(code, 'why');
      assert.equal(body.code, code);
      assert.equal(body.type, `urn:latchkey:problem:${code}`);
      assert.equal(body.status, PROBLEMS[code].status);
    }
  });

  it('include what the API answers when refused, not found or unauthenticated', async () => {
    const cases = [
      await t.app.inject({ url: '/api/v1/me' }),
      await t.app.inject({ url: '/api/v1/no-such-route' }),
      await t.app.inject({ method: 'POST', url: '/api/v1/orgs', payload: { name: '' } }),
    ];
    for (const res of cases) {
      const code = (res.json() as { code: unknown }).code;
      assert.ok((ERROR_CODES as readonly unknown[]).includes(code), `${res.statusCode} ${res.body}`);
    }
  });
});

describe('the vocabularies', () => {
  it('permissions: every permission some role grants, and the OpenAPI enum of /api/v1/me', () => {
    const granted = new Set(Object.values(ROLE_PERMISSIONS).flatMap((ps) => [...ps]));
    assert.deepEqual(sorted(granted), sorted(PERMISSIONS));
    assert.deepEqual(sorted(meOrg().properties!.permissions!.items!.enum as string[]), sorted(PERMISSIONS));
  });

  it('roles: the role table and the OpenAPI document', () => {
    assert.deepEqual(sorted(Object.keys(ROLE_PERMISSIONS)), sorted(ROLES));
    const documented = meOrg().properties!.role!.anyOf!.flatMap((s) => s.enum as string[]);
    assert.deepEqual(sorted(documented), sorted(ROLES));
  });

  it('token scopes: an org key may carry an admin’s permissions, a personal token every API scope', () => {
    assert.deepEqual(sorted(ORG_KEY_SCOPES), sorted(scopesForRole('admin')));
    assert.deepEqual(sorted(PAT_SCOPES), sorted(API_SCOPES));
    assert.deepEqual(sorted(PAT_SCOPES), sorted([...PERMISSIONS, ...ACCOUNT_SCOPES]));
  });

  it('token scopes, over HTTP: the contract’s lists mint, one scope beyond them does not', async () => {
    const { org, people } = await team(t);
    const owner = people.owner.client;
    const pat = await owner.post('/api/v1/tokens', { type: 'pat', scopes: [...PAT_SCOPES] });
    assert.equal(pat.statusCode, 201, pat.body);
    assert.deepEqual(sorted(pat.json().scopes), sorted(PAT_SCOPES));
    const key = await owner.post('/api/v1/org/tokens', { scopes: [...ORG_KEY_SCOPES] }, org.id);
    assert.equal(key.statusCode, 201, key.body);
    assert.deepEqual(sorted(key.json().scopes), sorted(ORG_KEY_SCOPES));
    const beyond = PERMISSIONS.filter((p) => !(ORG_KEY_SCOPES as readonly string[]).includes(p));
    assert.ok(beyond.length > 0);
    for (const scope of beyond) {
      const res = await owner.post('/api/v1/org/tokens', { scopes: ['org:read', scope] }, org.id);
      assert.equal(res.statusCode, 400, `${scope}: ${res.body}`);
      assert.equal(res.json().code, 'invalid_request');
    }
  });
});

describe('GET /api/v1/me', () => {
  it('lists, for each role, permissions drawn from the contract’s list, in the contract’s shape', async () => {
    const { org, people } = await team(t);
    for (const role of ROLES) {
      const res = await people[role].client.get('/api/v1/me', org.id);
      assert.equal(res.statusCode, 200, res.body);
      const me = res.json() as Me;
      assert.deepEqual(Object.keys(me).sort(), ['credential', 'email_verified', 'org', 'orgs', 'user']);
      assert.ok(me.org, role);
      assert.equal(me.org.id, org.id, role);
      assert.equal(me.org.role, role);
      assert.ok(me.org.permissions.length > 0, role);
      for (const o of [me.org, ...me.orgs]) {
        assert.deepEqual(Object.keys(o).sort(), ['id', 'name', 'permissions', 'role', 'slug']);
        assert.ok(ROLES.includes(o.role), o.role);
        for (const p of o.permissions) assert.ok(PERMISSIONS.includes(p), `${role}: ${p}`);
      }
    }
  });

  it('for a token holding only some scopes, the permissions are those scopes, still from the list', async () => {
    const { org, people } = await team(t);
    const minted = await people.member.client.post('/api/v1/tokens', {
      type: 'pat',
      scopes: ['account:read', 'org:read'],
    });
    assert.equal(minted.statusCode, 201, minted.body);
    const res = await bearer(t, minted.json().token, { url: '/api/v1/me', org: org.id });
    assert.equal(res.statusCode, 200, res.body);
    const me = res.json() as Me;
    assert.deepEqual(me.org?.permissions, ['org:read']);
    assert.ok(me.credential.scopes?.every((s) => (PAT_SCOPES as readonly string[]).includes(s)));
  });
});
