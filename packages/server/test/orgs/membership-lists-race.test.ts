// test-backend: external — two PostgreSQL connections change one person's memberships at once
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { type TestServer, testServer } from '../helpers/harness.js';

/**
 * Two transactions change one person's memberships at the same time: one removes them from an org,
 * the other adds them to another. Each trigger computes the person's list; had the second computed
 * it from what it saw before the first committed, the list would still hold the org the person was
 * removed from. It waits for the first and reads both changes.
 */
let t: TestServer;
before(async () => {
  t = await testServer();
});
after(() => t.close());

describe("a person's kept list under concurrent changes", () => {
  it('holds both changes of two transactions that overlap', async () => {
    const person = t.client();
    const { user, org: own } = await person.signup();
    const owner = t.client();
    const { org: joined } = await owner.signup();
    const other = t.client();
    const { org: next } = await other.signup();
    await t.deps.db
      .insertInto('memberships')
      .values({ org_id: joined.id, user_id: user.id, role: 'member', created_at: new Date() })
      .execute();

    const removing = new pg.Client({ connectionString: t.storage.databaseUrl! });
    const adding = new pg.Client({ connectionString: t.storage.databaseUrl! });
    const watcher = new pg.Client({ connectionString: t.storage.databaseUrl! });
    await Promise.all([removing.connect(), adding.connect(), watcher.connect()]);
    try {
      await removing.query('begin');
      await removing.query('delete from memberships where org_id = $1 and user_id = $2', [
        joined.id,
        user.id,
      ]);

      await adding.query('begin');
      const add = adding.query(
        `insert into memberships (org_id, user_id, role, created_at) values ($1, $2, 'member', now())`,
        [next.id, user.id],
      );
      const waiting = async () =>
        Number(
          (
            await watcher.query(
              `select count(*) as n from pg_stat_activity
               where wait_event_type = 'Lock' and query ilike 'insert into memberships%'`,
            )
          ).rows[0].n,
        ) > 0;
      const deadline = Date.now() + 10_000;
      while (!(await waiting())) {
        assert.ok(Date.now() < deadline, 'the second change never waited on the first');
        await new Promise((r) => setTimeout(r, 20));
      }
      await removing.query('commit');
      await add;
      await adding.query('commit');
    } finally {
      await Promise.all([removing.end(), adding.end(), watcher.end()]);
    }

    const kept = await t.deps.db
      .selectFrom('membership_lists')
      .select('orgs')
      .where('user_id', '=', user.id)
      .executeTakeFirstOrThrow();
    const list = typeof kept.orgs === 'string' ? (JSON.parse(kept.orgs) as { id: string }[]) : kept.orgs;
    assert.deepEqual(
      list.map((o) => o.id),
      [own.id, next.id],
    );
  });
});
