import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { builtOnce } from '../../src/db/built-once.js';
import { openTestStorage, type TestStorage } from '../helpers/storage.js';

// A statement built once binds each call's values where its placeholders were, keeps the constants
// it was built with, and answers exactly what the same query built on every call answers. It
// refuses to be built in a way whose values would not be bound.
let s: TestStorage;
before(async () => {
  s = await openTestStorage();
  await sql`create table built_once_probe (id int primary key, owner text not null, kind text not null, at timestamptz)`.execute(
    s.storage.db,
  );
  await sql`insert into built_once_probe values
    (1, 'ann', 'a', '2026-01-01T00:00:00Z'), (2, 'ann', 'b', '2026-02-01T00:00:00Z'),
    (3, 'bob', 'a', '2026-03-01T00:00:00Z'), (4, 'bob', 'a', null)`.execute(s.storage.db);
});
after(() => s.close());

describe('a statement built once', () => {
  it('builds once and answers as the query built on every call does, for every value', async () => {
    let builds = 0;
    const byOwner = builtOnce((db, p: { owner: string; since: Date }) => {
      builds++;
      return db
        .selectFrom('built_once_probe' as never)
        .select(['id' as never])
        .where('owner' as never, '=', p.owner as never)
        .where('kind' as never, '=', 'a' as never)
        .where((eb) => eb.or([eb('at' as never, 'is', null), eb('at' as never, '>', p.since as never)]))
        .orderBy('id' as never)
        .limit(10);
    });
    const fresh = (owner: string, since: Date) =>
      s.storage.db
        .selectFrom('built_once_probe' as never)
        .select(['id' as never])
        .where('owner' as never, '=', owner as never)
        .where('kind' as never, '=', 'a' as never)
        .where((eb) => eb.or([eb('at' as never, 'is', null), eb('at' as never, '>', since as never)]))
        .orderBy('id' as never)
        .limit(10)
        .execute();
    const cases: [string, string][] = [
      ['ann', '2025-12-01T00:00:00Z'],
      ['bob', '2025-12-01T00:00:00Z'],
      ['bob', '2026-06-01T00:00:00Z'],
      ['carol', '2025-12-01T00:00:00Z'],
    ];
    for (const [owner, since] of cases) {
      const got = await byOwner.rows(s.storage.db, { owner, since: new Date(since) });
      assert.deepEqual(got, await fresh(owner, new Date(since)), `${owner} since ${since}`);
    }
    assert.deepEqual(
      (await byOwner.rows(s.storage.db, { owner: 'bob', since: new Date('2026-06-01T00:00:00Z') })).map(
        (r) => (r as { id: number }).id,
      ),
      [4],
    );
    assert.equal(builds, 1);
    assert.equal(await byOwner.first(s.storage.db, { owner: 'nobody', since: new Date(0) }), undefined);
  });

  it('binds a value used twice in both places, and a null as SQL null', async () => {
    const q = builtOnce(
      (_db, p: { a: string; b: string | null }) =>
        sql<{ same: boolean; b_null: boolean; a: string }>`select ${p.a}::text = ${p.a}::text as same,
          ${p.b}::text is null as b_null, ${p.a}::text as a`,
    );
    assert.deepEqual(await q.first(s.storage.db, { a: 'x', b: null }), { same: true, b_null: true, a: 'x' });
    assert.deepEqual(await q.first(s.storage.db, { a: "y'); drop table built_once_probe; --", b: 'z' }), {
      same: true,
      b_null: false,
      a: "y'); drop table built_once_probe; --",
    });
    const { rows } = await sql<{ n: string }>`select count(*) as n from built_once_probe`.execute(
      s.storage.db,
    );
    assert.equal(Number(rows[0]!.n), 4);
  });

  it('runs the plugins of the handle it runs on, as a query built on every call does', async () => {
    const seen: unknown[] = [];
    const plugin = {
      transformQuery: (a: { node: unknown }) => (seen.push(a.node), a.node),
      transformResult: async (a: { result: unknown }) => a.result,
    };
    const q = builtOnce((_db, p: { a: string }) => sql<{ a: string }>`select ${p.a}::text as a`);
    assert.deepEqual(await q.first(s.storage.db.withPlugin(plugin as never), { a: 'seen' }), { a: 'seen' });
    assert.equal(seen.length, 1);
    assert.deepEqual(await q.first(s.storage.db, { a: 'unseen' }), { a: 'unseen' });
    assert.equal(seen.length, 1);
  });

  it('refuses a call that leaves a value out, and a placeholder that shapes the statement instead of being a value', () => {
    const q = builtOnce((_db, p: { a: string }) => sql`select ${p.a}::text as a`);
    assert.throws(() => q.bind({} as { a: string }, s.storage.db), /no value for "a"/);
    const shaped = builtOnce((_db, p: { flag: boolean }) => (p.flag ? sql`select 1` : sql`select 2`));
    assert.throws(() => shaped.bind({ flag: false }, s.storage.db), /"flag" is not a parameter/);
  });
});
