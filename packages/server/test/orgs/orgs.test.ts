import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Permission } from '../../src/auth/permissions.js';
import { type Role, ROLE_PERMISSIONS, ROLES } from '../../src/orgs/roles.js';
import { isValidSlug } from '../../src/orgs/slug.js';
import { type Client, type TestServer, testServer, uniqueEmail } from '../helpers/harness.js';
import { bearer, mintPat } from '../tokens/helpers.js';
import { assertProblem, auditPage, auditRows, inviteToken, stranger, team } from './helpers.js';

let t: TestServer;
before(async () => {
  t = await testServer();
});
after(() => t.close());

let n = 0;
/** A slug no other test in this file uses. */
const uniqueSlug = (base = 'org') => `${base}-${process.pid}-${++n}`;

const INVALID_SLUGS = [
  'Acme',
  'ACME',
  randomUUID(),
  '-acme',
  'acme-',
  'ac--me',
  '',
  'a'.repeat(41),
  'acme corp',
  'acme_corp',
  'ácme',
];

describe('POST /api/v1/orgs', () => {
  it('creates an org with the caller as owner, deriving a slug from the name', async () => {
    const me = await stranger(t);
    const name = `Acme Widgets ${++n}`;
    const res = await me.client.post('/api/v1/orgs', { name });
    assert.equal(res.statusCode, 201, res.body);
    const org = res.json();
    assert.deepEqual(Object.keys(org).sort(), ['id', 'name', 'role', 'slug']);
    assert.equal(org.name, name);
    assert.equal(org.role, 'owner');
    assert.equal(org.slug, `acme-widgets-${n}`);
    const mine = (await me.client.get('/api/v1/me')).json().orgs as { id: string; role: string }[];
    assert.deepEqual(
      mine.find((o) => o.id === org.id),
      { id: org.id, slug: org.slug, name, role: 'owner', permissions: [...ROLE_PERMISSIONS.owner] },
    );
    // The same name again gets a different, still valid slug.
    const again = await me.client.post('/api/v1/orgs', { name });
    assert.equal(again.statusCode, 201, again.body);
    assert.notEqual(again.json().slug, org.slug);
    assert.ok(isValidSlug(again.json().slug), again.json().slug);
    // A name with nothing slug-worthy still gets a valid slug.
    const odd = await me.client.post('/api/v1/orgs', { name: '日本' });
    assert.equal(odd.statusCode, 201, odd.body);
    assert.ok(isValidSlug(odd.json().slug), odd.json().slug);
  });

  it('takes a chosen slug, and refuses a taken one with 409 slug_taken', async () => {
    const me = await stranger(t);
    const slug = uniqueSlug('chosen');
    const res = await me.client.post('/api/v1/orgs', { name: 'Chosen', slug });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().slug, slug);
    assert.equal((await me.client.get('/api/v1/org', slug)).json().id, res.json().id);
    const other = await stranger(t);
    assertProblem(await other.client.post('/api/v1/orgs', { name: 'Copycat', slug }), 409, 'slug_taken');
    assertProblem(
      await other.client.post('/api/v1/orgs', { name: 'Copycat', slug: me.org.slug }),
      409,
      'slug_taken',
    );
  });

  it('gives one of two racing creations a taken slug 409, never 500', async () => {
    const me = await stranger(t);
    const slug = uniqueSlug('race');
    const both = await Promise.all([
      me.client.post('/api/v1/orgs', { name: 'One', slug }),
      me.client.post('/api/v1/orgs', { name: 'Two', slug }),
    ]);
    assert.deepEqual(both.map((r) => r.statusCode).sort(), [201, 409]);
  });

  it('refuses invalid slugs and names with 400', async () => {
    const me = await stranger(t);
    for (const slug of INVALID_SLUGS) {
      assertProblem(
        await me.client.post('/api/v1/orgs', { name: 'Bad slug', slug }),
        400,
        'invalid_request',
        JSON.stringify(slug),
      );
    }
    for (const body of [
      { name: '' },
      { name: '   ' },
      { name: 'x'.repeat(101) },
      {},
      { name: 'ok', owner: 'x' },
    ]) {
      assertProblem(await me.client.post('/api/v1/orgs', body), 400, 'invalid_request', JSON.stringify(body));
    }
    assert.equal((await me.client.get('/api/v1/me')).json().orgs.length, 1, 'nothing was created');
  });

  it('needs a signed-in person', async () => {
    assert.equal((await t.client().post('/api/v1/orgs', { name: 'Anon' })).statusCode, 401);
  });
});

interface MeOrg {
  id: string;
  role: string;
  permissions: Permission[];
}
interface MeBody {
  org: MeOrg | null;
  orgs: MeOrg[];
}

const sorted = (ps: Iterable<string>) => [...ps].sort();

/** What `GET /api/v1/me` says the caller may do in `orgId`, in the list and as the current org. */
async function permissionsIn(
  get: (org: string) => Promise<{ statusCode: number; body: string; json(): unknown }>,
  orgId: string,
) {
  const res = await get(orgId);
  assert.equal(res.statusCode, 200, res.body);
  const me = res.json() as MeBody;
  const listed = me.orgs.find((o) => o.id === orgId);
  assert.ok(listed, `${orgId} is among the orgs`);
  assert.equal(me.org?.id, orgId);
  assert.deepEqual(sorted(me.org.permissions), sorted(listed.permissions), 'current org and list agree');
  return sorted(listed.permissions);
}

const viaSession = (c: Client) => (org: string) => c.get('/api/v1/me', org);
const viaToken = (token: string) => (org: string) => bearer(t, token, { url: '/api/v1/me', org });

describe('GET /api/v1/me permissions', () => {
  it('gives a personal token only what both the role and its scopes allow', async () => {
    const { org, people } = await team(t);
    // An org:read token of the owner: only org:read, though the role allows far more.
    const readOnly = await mintPat(people.owner.client, { name: 'ro', scopes: ['account:read', 'org:read'] });
    assert.deepEqual(await permissionsIn(viaToken(readOnly.token), org.id), ['org:read']);
    // A token with no org scope holds no org permission at all.
    const bare = await mintPat(people.owner.client, { name: 'bare', scopes: ['account:read'] });
    assert.deepEqual(await permissionsIn(viaToken(bare.token), org.id), []);
    // Scopes never add to a role: a member's token asking for managing scopes still only reads here…
    const wide = await mintPat(people.member.client, {
      name: 'wide',
      scopes: ['account:read', 'org:read', 'members:manage', 'audit:read', 'org:delete'],
    });
    assert.deepEqual(await permissionsIn(viaToken(wide.token), org.id), ['org:read']);
    const refused = await bearer(t, wide.token, { method: 'DELETE', url: '/api/v1/org', org: org.id });
    assertProblem(refused, 403, 'forbidden', 'what me leaves out, the API refuses');
    // …while in the member's own org, where they are owner, the same token holds all three.
    const own = (await people.member.client.get('/api/v1/me')).json() as MeBody;
    const personal = own.orgs.find((o) => o.role === 'owner');
    assert.ok(personal);
    assert.deepEqual(await permissionsIn(viaToken(wide.token), personal.id), [
      'audit:read',
      'members:manage',
      'org:delete',
      'org:read',
    ]);
  });

  it("lists each org's permissions from the role there, as the server's role table says", async () => {
    const { org, people } = await team(t);
    const expected: Record<string, string[]> = {
      owner: [
        'audit:read',
        'billing:read',
        'invitations:manage',
        'members:manage',
        'members:read',
        'oauth:manage',
        'org:delete',
        'org:read',
        'org:transfer',
        'org:update',
        'tokens:manage',
      ],
      admin: [
        'audit:read',
        'billing:read',
        'invitations:manage',
        'members:manage',
        'members:read',
        'oauth:manage',
        'org:read',
        'org:update',
        'tokens:manage',
      ],
      member: ['members:read', 'org:read'],
      billing: ['billing:read', 'org:read'],
    };
    for (const role of ROLES) {
      const got = await permissionsIn(viaSession(people[role].client), org.id);
      assert.deepEqual(got, expected[role], role);
      assert.deepEqual(got, sorted(ROLE_PERMISSIONS[role]), `${role}: the role table and me agree`);
      // Every org in the list carries its own role's permissions.
      const me = (await people[role].client.get('/api/v1/me')).json() as MeBody;
      assert.ok(
        me.orgs.some((o) => o.id === org.id),
        role,
      );
      for (const o of me.orgs)
        assert.deepEqual(
          sorted(o.permissions),
          sorted(ROLE_PERMISSIONS[o.role as Role]),
          `${role} in ${o.id}`,
        );
    }
  });
});

describe('PATCH /api/v1/org', () => {
  it('renames and re-slugs, audited, and the new slug works at once for every member', async () => {
    const { org, people } = await team(t);
    // The admin's memberships are cached by this request.
    assert.equal((await people.admin.client.get('/api/v1/org', org.slug)).statusCode, 200);
    const slug = uniqueSlug('renamed');
    const before = (await people.owner.client.get('/api/v1/org', org.id)).json().name as string;
    const res = await people.owner.client.patch('/api/v1/org', { name: 'Renamed Org', slug }, org.id);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().id, org.id);
    assert.equal(res.json().name, 'Renamed Org');
    assert.equal(res.json().slug, slug);
    assert.equal(res.json().role, 'owner');
    for (const who of ['owner', 'admin', 'member', 'billing'] as const) {
      const c = people[who].client;
      const now = await c.get('/api/v1/org', slug);
      assert.equal(now.statusCode, 200, `${who} by the new slug`);
      assert.equal(now.json().name, 'Renamed Org', who);
      assertProblem(await c.get('/api/v1/org', org.slug), 403, 'org_forbidden', `${who} by the old slug`);
    }
    const [ev] = (await auditPage(people.admin.client, org.id, 'action=org.updated')).data;
    assert.equal(ev?.actor, `user:${people.owner.id}`);
    assert.equal(ev?.target, `org:${org.id}`);
    assert.deepEqual(ev?.data, { name: 'Renamed Org', previous_name: before, slug, previous_slug: org.slug });
    // The old slug is free again.
    const other = await stranger(t);
    assert.equal(
      (await other.client.post('/api/v1/orgs', { name: 'Taker', slug: org.slug })).statusCode,
      201,
    );
  });

  it('changes just the name, or just the slug; a change to the same values writes no event', async () => {
    const me = await stranger(t);
    const before = (await me.client.get('/api/v1/org', me.org.id)).json().name as string;
    const named = await me.client.patch('/api/v1/org', { name: '  Only Name  ' }, me.org.id);
    assert.equal(named.statusCode, 200, named.body);
    assert.equal(named.json().name, 'Only Name');
    assert.equal(named.json().slug, me.org.slug);
    const slug = uniqueSlug('only');
    const slugged = await me.client.patch('/api/v1/org', { slug }, me.org.id);
    assert.equal(slugged.json().slug, slug);
    assert.equal(slugged.json().name, 'Only Name');
    // Its own slug and name again are not "taken", and change nothing.
    const same = await me.client.patch('/api/v1/org', { slug, name: 'Only Name' }, me.org.id);
    assert.equal(same.statusCode, 200, same.body);
    assert.equal(same.json().slug, slug);
    const events = (await auditPage(me.client, me.org.id, 'action=org.updated')).data;
    assert.deepEqual(
      events.map((e) => e.data),
      [
        { slug, previous_slug: me.org.slug },
        { name: 'Only Name', previous_name: before },
      ],
    );
  });

  it('refuses a taken slug, invalid slugs, empty names and empty bodies', async () => {
    const me = await stranger(t);
    const other = await stranger(t);
    assertProblem(
      await me.client.patch('/api/v1/org', { slug: other.org.slug }, me.org.id),
      409,
      'slug_taken',
    );
    for (const slug of INVALID_SLUGS) {
      assertProblem(
        await me.client.patch('/api/v1/org', { slug }, me.org.id),
        400,
        'invalid_request',
        JSON.stringify(slug),
      );
    }
    for (const body of [{}, { name: '  ' }, { name: '' }, { id: randomUUID() }]) {
      assertProblem(
        await me.client.patch('/api/v1/org', body, me.org.id),
        400,
        'invalid_request',
        JSON.stringify(body),
      );
    }
    const still = (await me.client.get('/api/v1/org', me.org.id)).json();
    assert.equal(still.slug, me.org.slug);
    assert.deepEqual((await auditPage(me.client, me.org.id, 'action=org.updated')).data, []);
  });
});

describe('DELETE /api/v1/org', () => {
  it('deletes the org for every member at once; its org.deleted audit row remains', async () => {
    const { org, people } = await team(t);
    const invitee = uniqueEmail('never');
    await inviteToken(t, people.owner.client, org.id, invitee, 'member');
    // Warm the members' cached memberships.
    for (const who of ['admin', 'member', 'billing'] as const) {
      assert.equal((await people[who].client.get('/api/v1/org', org.id)).statusCode, 200);
    }
    const res = await people.owner.client.delete('/api/v1/org', org.id);
    assert.equal(res.statusCode, 204, res.body);
    assert.equal(res.body, '');
    for (const who of ['owner', 'admin', 'member', 'billing'] as const) {
      const c = people[who].client;
      assertProblem(await c.get('/api/v1/org', org.id), 403, 'org_forbidden', who);
      assertProblem(await c.get('/api/v1/org', org.slug), 403, 'org_forbidden', `${who} by slug`);
      const orgs = (await c.get('/api/v1/me')).json().orgs as { id: string }[];
      assert.ok(!orgs.some((o) => o.id === org.id), `${who}'s /me no longer lists it`);
    }
    const db = t.deps.db;
    assert.equal(
      await db.selectFrom('orgs').select('id').where('id', '=', org.id).executeTakeFirst(),
      undefined,
    );
    assert.deepEqual(
      await db.selectFrom('memberships').select('user_id').where('org_id', '=', org.id).execute(),
      [],
    );
    assert.deepEqual(
      await db.selectFrom('invitations').select('id').where('org_id', '=', org.id).execute(),
      [],
    );
    const rows = await auditRows(t, org.id);
    const deleted = rows.filter((r) => r.action === 'org.deleted');
    assert.equal(deleted.length, 1);
    assert.equal(deleted[0]?.actor, `user:${people.owner.id}`);
    assert.ok(
      rows.some((r) => r.action === 'invitation.created'),
      'the history before the deletion remains',
    );
    // Its slug can be used again.
    assert.equal(
      (await people.admin.client.post('/api/v1/orgs', { name: 'Reborn', slug: org.slug })).statusCode,
      201,
    );
  });

  it('deletes once when two deletions race: one 204, one 403, one org.deleted event', async () => {
    const { org, people } = await team(t);
    const [a, b] = [people.owner, people.admin];
    assert.equal(
      (await a.client.patch(`/api/v1/org/members/${b.id}`, { role: 'owner' }, org.id)).statusCode,
      200,
    );
    const both = await Promise.all([
      a.client.delete('/api/v1/org', org.id),
      b.client.delete('/api/v1/org', org.id),
    ]);
    assert.deepEqual(both.map((r) => r.statusCode).sort(), [204, 403], both.map((r) => r.body).join(' '));
    const loser = both.find((r) => r.statusCode === 403);
    assert.equal(loser?.json().code, 'org_forbidden');
    const deleted = (await auditRows(t, org.id)).filter((r) => r.action === 'org.deleted');
    assert.equal(deleted.length, 1);
  });

  it('is for owners only, and needs the org named or defaulted', async () => {
    const { org, people } = await team(t);
    assertProblem(await people.admin.client.delete('/api/v1/org', org.id), 403, 'forbidden');
    assert.equal((await people.owner.client.get('/api/v1/org', org.id)).statusCode, 200);
    // The admin's default org is their own: deleting without a header deletes that, not this one.
    const own = (await people.admin.client.get('/api/v1/me')).json().org as { id: string };
    assert.notEqual(own.id, org.id);
    assert.equal((await people.admin.client.delete('/api/v1/org')).statusCode, 204);
    assert.equal((await people.owner.client.get('/api/v1/org', org.id)).statusCode, 200);
    assertProblem(await people.admin.client.get('/api/v1/org', own.id), 403, 'org_forbidden');
  });
});
