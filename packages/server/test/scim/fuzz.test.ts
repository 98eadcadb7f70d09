import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { type TestServer, testServer } from '../helpers/harness.js';
import { authorizationJunk, enc, headerJunk, junk } from '../http/fuzz-arbitraries.js';
import { allRoutes } from '../http/routes.js';
import { BASE, ERROR, GROUP, type Idp, LK_GROUP, PATCH_OP, scimOrg, USER } from './helpers.js';

// Hostile input to every SCIM route, with a valid secret (so it reaches the handlers) and
// without: never a 5xx, every error an RFC 7644 error, and another org's rows never change.

const RUNS = 600;
const SEED = process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {};

let t: TestServer;
let idp: Idp;
let ids: string[];
let otherOrg: string;
let otherBefore: string;

before(async () => {
  t = await testServer();
  idp = (await scimOrg(t, 'Fuzz Owner')).idp;
  const other = await scimOrg(t, 'Bystander Owner');
  otherOrg = other.owner.org.id;
  const a = await idp.createUser(idp.email('fuzz-a'));
  const b = await idp.createUser(idp.email('fuzz-b'));
  const g = await idp.createGroup('Fuzz Group', [a.id], { [LK_GROUP]: { role: 'billing' } });
  const o = await other.idp.createUser(other.idp.email('bystander'));
  await other.idp.createGroup('Bystander Group', [o.id]);
  ids = [a.id, b.id, g.id, o.id];
  otherBefore = await digest(otherOrg);
});
after(() => t.close());

/** Everything SCIM keeps for one org, plus its memberships. */
async function digest(orgId: string): Promise<string> {
  const r = await sql<{ d: string }>`select md5(concat_ws('|',
      (select string_agg(concat_ws(',', id, user_id, external_id, display_name, emails::text, version), ';' order by id) from scim_users where org_id = ${orgId}),
      (select string_agg(concat_ws(',', id, display_name, role, version), ';' order by id) from scim_groups where org_id = ${orgId}),
      (select string_agg(concat_ws(',', group_id, scim_user_id), ';' order by group_id, scim_user_id) from scim_group_members where org_id = ${orgId}),
      (select string_agg(concat_ws(',', user_id, role), ';' order by user_id) from memberships where org_id = ${orgId}))) as d`.execute(
    t.deps.db,
  );
  return r.rows[0]!.d;
}

function checkScim(res: LightMyRequestResponse, what: string) {
  assert.ok(res.statusCode < 500, `5xx: ${what} → ${res.statusCode} ${res.body.slice(0, 300)}`);
  if (res.statusCode < 400) return;
  assert.match(
    String(res.headers['content-type']),
    /^application\/scim\+json/,
    `${what} → ${res.body.slice(0, 200)}`,
  );
  const body = JSON.parse(res.body) as { schemas: string[]; status: string };
  assert.deepEqual(body.schemas, [ERROR], what);
  assert.equal(body.status, String(res.statusCode), what);
  assert.doesNotMatch(res.body, /\bat .+\.(ts|js):\d+/, `stack trace: ${what}`);
}

const ATTRS = [
  'userName',
  'USERNAME',
  'externalId',
  'emails',
  'emails.value',
  'emails.type',
  'name.givenName',
  'name.familyName',
  'displayName',
  'active',
  'meta.created',
  'meta.lastModified',
  'id',
  'members',
  'members.value',
  'title',
  'urn:ietf:params:scim:schemas:core:2.0:User:userName',
  `${LK_GROUP}:role`,
  'emails[type eq "work"]',
];
const WORDS = [
  'eq',
  'ne',
  'co',
  'sw',
  'ew',
  'gt',
  'ge',
  'lt',
  'le',
  'pr',
  'and',
  'or',
  'not',
  'AND',
  'Or',
  'true',
  'false',
  'null',
  '(',
  ')',
  '[',
  ']',
  '.',
  '"',
  '\\"',
  '1',
  '-2.5e3',
];

const literal = fc.oneof(
  fc.string({ maxLength: 20 }).map((s) => JSON.stringify(s)),
  fc.constantFrom('"2026-01-01T00:00:00Z"', '"\' or 1=1 --"', '"%_\\\\"', '"x\\"y"', '"unterminated'),
);
const filterText = fc.oneof(
  fc.tuple(fc.constantFrom(...ATTRS), fc.constantFrom(...WORDS), literal).map((p) => p.join(' ')),
  fc
    .array(fc.oneof(fc.constantFrom(...ATTRS), fc.constantFrom(...WORDS), literal), { maxLength: 12 })
    .map((p) => p.join(' ')),
  junk,
);
/** Built once the fixtures exist: the generators mix real ids and plausible values with junk. */
function generators() {
  const w = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });
  const id = fc.oneof(
    w(6, fc.constantFrom(...ids)),
    w(1, fc.uuid()),
    w(
      1,
      junk.map(enc).filter((s) => s !== '' && !/^(\.|%2e){1,2}$/i.test(s)),
    ),
  );
  const value = fc.oneof(
    w(3, fc.constantFrom('False', 'True', true, false, null, 'x', 'a@b.example', [], {})),
    w(1, fc.jsonValue({ maxDepth: 3 })),
  );
  const member = fc.record({ value: fc.oneof(w(4, fc.constantFrom(...ids)), w(1, value)) });
  const path = fc.oneof(
    w(
      4,
      fc.constantFrom(
        ...ATTRS,
        'members',
        'emails[type eq "work"].value',
        'name',
        'groups',
        'meta.version',
        `${LK_GROUP}:role`,
      ),
    ),
    w(
      2,
      fc.constantFrom(...ids).map((x) => `members[value eq "${x}"]`),
    ),
    w(1, filterText),
  );
  const operation = fc.record(
    {
      op: fc.oneof(
        w(6, fc.constantFrom('add', 'Add', 'replace', 'Replace', 'remove', 'Remove')),
        w(1, fc.jsonValue({ maxDepth: 0 })),
      ),
      path,
      value: fc.oneof(
        w(2, value),
        w(2, fc.array(member, { maxLength: 3 })),
        w(
          2,
          fc.constantFrom(
            { active: false },
            { active: 'False' },
            { active: true },
            { displayName: 'Renamed' },
            { [LK_GROUP]: { role: 'admin' } },
          ),
        ),
        w(1, fc.string({ maxLength: 300 })),
      ),
    },
    { requiredKeys: ['op', 'value'] },
  );
  const patchBody = fc.record(
    {
      schemas: fc.oneof(w(6, fc.constant([PATCH_OP])), w(1, fc.jsonValue({ maxDepth: 1 }))),
      Operations: fc.oneof(
        w(6, fc.array(operation, { minLength: 1, maxLength: 4 })),
        w(1, fc.jsonValue({ maxDepth: 1 })),
      ),
    },
    { requiredKeys: ['schemas', 'Operations'] },
  );
  const resourceBody = fc.record(
    {
      schemas: fc.oneof(w(6, fc.constantFrom([USER], [GROUP])), w(1, fc.jsonValue({ maxDepth: 1 }))),
      userName: fc.oneof(w(5, fc.emailAddress()), w(1, value)),
      displayName: fc.oneof(
        w(5, fc.string({ minLength: 1, maxLength: 40 })),
        w(1, fc.string({ maxLength: 300 })),
        w(1, value),
      ),
      active: value,
      emails: fc.oneof(
        w(1, value),
        w(
          2,
          fc.array(fc.record({ value: fc.oneof(fc.emailAddress(), value), type: value, primary: value }), {
            maxLength: 3,
          }),
        ),
      ),
      members: fc.oneof(w(1, value), w(3, fc.array(member, { maxLength: 3 }))),
      name: fc.oneof(w(1, value), w(2, fc.record({ givenName: value, familyName: value }))),
      [LK_GROUP]: fc.oneof(
        w(1, value),
        w(
          2,
          fc.record({ role: fc.oneof(fc.constantFrom('admin', 'owner', 'member', 'billing', null), value) }),
        ),
      ),
    },
    { requiredKeys: ['schemas'] },
  );
  // DELETE gets ids that name nothing: deleting the fixtures would leave the rest of the run nothing to reach.
  const missing = fc.oneof(
    fc.uuid(),
    junk.map(enc).filter((x) => x !== '' && !/^(\.|%2e){1,2}$/i.test(x)),
  );
  return { id, missing, patchBody, resourceBody };
}

/** undefined `odds - 1` times in `odds`, else a value of `a`. */
function maybe<T>(a: fc.Arbitrary<T>, odds: number): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: odds - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: a });
}

interface Shot {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  payload?: string;
  headers: Record<string, string>;
}

function shots(routes: { method: string; path: string }[]): fc.Arbitrary<Shot> {
  const { id, missing, patchBody, resourceBody } = generators();
  return fc.constantFrom(...routes).chain((r) =>
    fc
      .record({
        pid: r.method === 'DELETE' ? missing : id,
        filter: maybe(filterText, 2),
        attributes: maybe(fc.oneof(fc.constantFrom(...ATTRS), junk), 4),
        excluded: maybe(fc.oneof(fc.constantFrom('members', 'emails,groups'), junk), 4),
        start: maybe(fc.oneof(fc.integer({ min: -5, max: 10 }).map(String), junk), 4),
        count: maybe(fc.oneof(fc.integer({ min: -5, max: 300 }).map(String), junk), 4),
        body: fc.oneof(
          { weight: 6, arbitrary: r.method === 'PATCH' ? patchBody : resourceBody },
          { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
        ),
        raw: maybe(fc.oneof(junk, fc.constant('{"schemas":')), 8),
        ct: fc.constantFrom(
          'application/scim+json',
          'application/json',
          'application/scim+json; charset=utf-8',
        ),
        ifMatch: maybe(fc.oneof(fc.constantFrom('*', 'W/"1"', '"2"'), headerJunk), 6),
      })
      .map((x) => {
        const q = new URLSearchParams();
        if (x.filter !== undefined) q.set('filter', x.filter);
        if (x.attributes !== undefined) q.set('attributes', x.attributes);
        if (x.excluded !== undefined) q.set('excludedAttributes', x.excluded);
        if (x.start !== undefined) q.set('startIndex', x.start);
        if (x.count !== undefined) q.set('count', x.count);
        const qs = q.toString();
        const path = r.path.replace(':id', x.pid);
        const hasBody = r.method !== 'GET' && r.method !== 'DELETE';
        return {
          method: r.method as Shot['method'],
          url: `${path}${qs ? `?${qs.replace(/\+/g, '%20')}` : ''}`,
          headers: {
            authorization: `Bearer ${idp.token}`,
            ...(hasBody ? { 'content-type': x.ct } : {}),
            ...(x.ifMatch !== undefined ? { 'if-match': x.ifMatch } : {}),
          },
          ...(hasBody ? { payload: x.raw ?? JSON.stringify(x.body) } : {}),
        };
      }),
  );
}

describe('fuzz: every SCIM route', () => {
  it('finds the SCIM routes', () => {
    const routes = allRoutes(t.app).filter((r) => r.path.startsWith(BASE));
    assert.ok(routes.length >= 15, `found ${routes.length}`);
  });

  it('with a valid secret: hostile filters, paths, bodies and headers never give a 5xx or a non-SCIM error', async () => {
    const routes = allRoutes(t.app).filter((r) => r.path.startsWith(BASE));
    await fc.assert(
      fc.asyncProperty(shots(routes), async (s) => {
        const res = await t.app.inject({ ...s, remoteAddress: '10.201.0.1' });
        checkScim(res, `${s.method} ${s.url} ${s.payload?.slice(0, 200) ?? ''}`);
      }),
      { numRuns: RUNS, ...SEED },
    );
    assert.equal(await digest(otherOrg), otherBefore, "another org's rows changed");
  });

  it('with junk credentials: always the SCIM 401', async () => {
    const routes = allRoutes(t.app).filter((r) => r.path.startsWith(BASE));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), authorizationJunk, fc.uuid(), async (r, auth, pid) => {
        const res = await t.app.inject({
          method: r.method as 'GET',
          url: r.path.replace(':id', pid),
          headers: { authorization: auth },
          remoteAddress: '10.201.0.2',
        });
        checkScim(res, `${r.method} ${r.path} ${auth}`);
        assert.equal(res.statusCode, 401);
      }),
      { numRuns: 200, ...SEED },
    );
    assert.equal(await digest(otherOrg), otherBefore);
  });
});
