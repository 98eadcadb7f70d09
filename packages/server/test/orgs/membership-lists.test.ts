import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { Client, TestServer } from '../helpers/harness.js';
import { testServer } from '../helpers/harness.js';
import { bearer, mintPat, orgWithRoles } from '../tokens/helpers.js';

// A person's orgs are kept as one list (`membership_lists`, maintained by triggers) that an
// uncached personal token reads with the token. With nothing cached (AUTH_CACHE_ENTRIES=0), every
// request below reads the kept list, so each change to a membership or an org must be in it by the
// next request, and the list must say exactly what the memberships say.
let t: TestServer;
before(async () => {
  t = await testServer({ env: { AUTH_CACHE_ENTRIES: '0' } });
});
after(() => t.close());

type MeOrg = { id: string; slug: string; name: string; role: string };

/** `/api/v1/me`'s orgs for a personal token (the kept list) and for the session (read from memberships). */
async function orgsOf(c: Client, pat: string): Promise<MeOrg[]> {
  const byToken = await bearer(t, pat, { url: '/api/v1/me' });
  assert.equal(byToken.statusCode, 200, byToken.body);
  const bySession = await c.get('/api/v1/me');
  assert.equal(bySession.statusCode, 200, bySession.body);
  const strip = (orgs: (MeOrg & { permissions: unknown })[]) =>
    orgs.map(({ id, slug, name, role }) => ({ id, slug, name, role }));
  const listed = strip(byToken.json().orgs);
  assert.deepEqual(listed, strip(bySession.json().orgs), 'the kept list and the memberships disagree');
  return listed;
}

/** Every person's kept list against what `memberships` and `orgs` hold now. */
async function assertEveryListTrue() {
  const { rows } = await sql<{ id: string; kept: string; truth: string }>`
    select u.id, coalesce(l.orgs, '[]'::json)::text as kept, coalesce((
      select json_agg(json_build_object('id', m.id, 'slug', m.slug, 'name', m.name, 'role', m.role)
        order by m.created_at, m.id)
      from (
        select o.id, o.slug, o.name, ms.role, ms.created_at
        from memberships ms join orgs o on o.id = ms.org_id
        where ms.user_id = u.id
        order by ms.created_at, o.id
        limit 500
      ) m
    ), '[]'::json)::text as truth
    from users u left join membership_lists l on l.user_id = u.id`.execute(t.deps.db);
  assert.ok(rows.length > 0);
  for (const r of rows) assert.deepEqual(JSON.parse(r.kept), JSON.parse(r.truth), `the list of ${r.id}`);
}

describe("a person's kept list of orgs", () => {
  it('follows every change to memberships and orgs, by the next request', async () => {
    const { owner, org, member, admin, ids } = await orgWithRoles(t);
    const pat = (await mintPat(member)).token;
    const adminPat = (await mintPat(admin)).token;
    const find = (orgs: MeOrg[], id: string) => orgs.find((o) => o.id === id);

    // Joined by invitation: the member's own org first, then the owner's, by joining date.
    let orgs = await orgsOf(member, pat);
    assert.equal(orgs.length, 2);
    assert.equal(orgs[1]!.id, org.id);
    assert.equal(orgs[1]!.role, 'member');
    await assertEveryListTrue();

    // A new role.
    const promoted = await owner.patch(`/api/v1/org/members/${ids.member}`, { role: 'admin' }, org.id);
    assert.equal(promoted.statusCode, 200, promoted.body);
    assert.equal(find(await orgsOf(member, pat), org.id)?.role, 'admin');

    // The org renamed: every member's list carries the new name and slug.
    const renamed = await owner.patch(
      '/api/v1/org',
      { name: 'Renamed Org', slug: `renamed-${Date.now()}` },
      org.id,
    );
    assert.equal(renamed.statusCode, 200, renamed.body);
    for (const [c, token] of [
      [member, pat],
      [admin, adminPat],
    ] as const) {
      const o = find(await orgsOf(c, token), org.id);
      assert.equal(o?.name, 'Renamed Org');
      assert.equal(o?.slug, renamed.json().slug);
    }
    await assertEveryListTrue();

    // An org the member creates comes last.
    const created = await member.post('/api/v1/orgs', { name: 'Side Project' });
    assert.equal(created.statusCode, 201, created.body);
    orgs = await orgsOf(member, pat);
    assert.deepEqual(
      orgs.map((o) => o.id),
      [orgs[0]!.id, org.id, created.json().id],
    );
    assert.equal(orgs[2]!.role, 'owner');

    // Removed: gone from the list, and the token no longer reaches the org.
    const removed = await owner.delete(`/api/v1/org/members/${ids.member}`, org.id);
    assert.equal(removed.statusCode, 204, removed.body);
    assert.equal(find(await orgsOf(member, pat), org.id), undefined);
    const inOrg = await bearer(t, pat, { url: '/api/v1/me', org: org.id });
    assert.equal(inOrg.statusCode, 403, inOrg.body);
    await assertEveryListTrue();

    // The org deleted: gone from every remaining member's list.
    assert.ok(find(await orgsOf(admin, adminPat), org.id));
    const deleted = await owner.delete('/api/v1/org', org.id);
    assert.equal(deleted.statusCode, 204, deleted.body);
    assert.equal(find(await orgsOf(admin, adminPat), org.id), undefined);
    await assertEveryListTrue();
  });

  it('is left alone by an update that renames nothing, and goes with its person', async () => {
    const c = t.client();
    const { user, org } = await c.signup();
    const before = await sql<{
      orgs: string;
    }>`select orgs::text from membership_lists where user_id = ${user.id}`.execute(t.deps.db);
    assert.equal(JSON.parse(before.rows[0]!.orgs)[0].id, org.id);
    await sql`update orgs set updated_at = now() where id = ${org.id}`.execute(t.deps.db);
    await assertEveryListTrue();
    await sql`delete from users where id = ${user.id}`.execute(t.deps.db);
    const after = await sql`select 1 from membership_lists where user_id = ${user.id}`.execute(t.deps.db);
    assert.equal(after.rows.length, 0);
    await assertEveryListTrue();
  });

  it('is emptied with the memberships', async () => {
    await t.client().signup();
    await sql`truncate memberships`.execute(t.deps.db);
    await assertEveryListTrue();
  });
});
