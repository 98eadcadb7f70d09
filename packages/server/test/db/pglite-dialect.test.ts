// test-backend: embedded — the subject is the embedded database's driver
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { openStorage, type Storage } from '../../src/db/connection.js';
import { executeGrouped } from '../../src/db/group-commit.js';

// The embedded database is one connection. Statements outside a transaction are sent without
// waiting for each other (they queue on the database's side); a transaction owns the connection
// from begin to commit. What must hold, in-process and on the database thread alike: nothing sent
// from outside a transaction ever runs inside it, a transaction sees only its own statements and
// what was committed, and a group of statements commits together or not at all.

for (const thread of [false, true]) {
  describe(`the embedded database driver (${thread ? 'database thread' : 'in process'})`, () => {
    let s: Storage;
    before(async () => {
      s = await openStorage({ databaseUrl: null, thread });
      await sql`create table probe (id int primary key, v text not null)`.execute(s.db);
    });
    after(() => s.close());

    const count = async (where = sql`true`) =>
      (await sql<{ n: number }>`select count(*)::int as n from probe where ${where}`.execute(s.db)).rows[0]!
        .n;

    it('answers many concurrent statements, each with its own rows, in the order they were sent', async () => {
      const ids = Array.from({ length: 60 }, (_, i) => i + 1);
      const inserted = await Promise.all(
        ids.map((id) =>
          sql<{ id: number }>`insert into probe (id, v) values (${id}, ${`v${id}`}) returning id`.execute(
            s.db,
          ),
        ),
      );
      assert.deepEqual(
        inserted.map((r) => r.rows[0]!.id),
        ids,
      );
      // Sent in order: the update is sent after the insert it depends on, without awaiting it.
      const [, updated] = await Promise.all([
        sql`insert into probe (id, v) values (100, 'first')`.execute(s.db),
        sql<{ v: string }>`update probe set v = 'second' where id = 100 returning v`.execute(s.db),
      ]);
      assert.deepEqual(updated.rows, [{ v: 'second' }]);
    });

    it('never runs a statement from outside a transaction inside it', async () => {
      let inside!: () => void;
      const open = new Promise<void>((r) => (inside = r));
      let finish!: () => void;
      const hold = new Promise<void>((r) => (finish = r));
      const trx = s.db
        .transaction()
        .execute(async (t) => {
          await sql`insert into probe (id, v) values (200, 'rolled back')`.execute(t);
          inside();
          await hold;
          throw new Error('roll back');
        })
        .catch((e: Error) => e.message);
      await open;
      // Sent while the transaction is open: it must wait, then commit on its own.
      const outside = sql`insert into probe (id, v) values (201, 'outside')`.execute(s.db);
      const grouped = executeGrouped(s.db, sql`insert into probe (id, v) values (202, 'grouped')`);
      const seen = sql<{ n: number }>`select count(*)::int as n from probe where id = 200`.execute(s.db);
      await new Promise((r) => setTimeout(r, 50));
      finish();
      assert.equal(await trx, 'roll back');
      await Promise.all([outside, grouped]);
      assert.equal((await seen).rows[0]!.n, 0, 'the transaction’s uncommitted row was seen from outside');
      assert.equal(await count(sql`id in (201, 202)`), 2);
      assert.equal(await count(sql`id = 200`), 0);
    });

    it('runs transactions one at a time, each seeing the one before it', async () => {
      await sql`insert into probe (id, v) values (300, '0')`.execute(s.db);
      await Promise.all(
        Array.from({ length: 20 }, () =>
          s.db.transaction().execute(async (t) => {
            const { rows } = await sql<{ v: string }>`select v from probe where id = 300`.execute(t);
            await new Promise((r) => setImmediate(r));
            await sql`update probe set v = ${String(Number(rows[0]!.v) + 1)} where id = 300`.execute(t);
          }),
        ),
      );
      const { rows } = await sql<{ v: string }>`select v from probe where id = 300`.execute(s.db);
      assert.equal(rows[0]!.v, '20');
    });

    it('a transaction whose begin fails leaves the database usable', async () => {
      await assert.rejects(
        s.db
          .transaction()
          .setIsolationLevel('nonsense' as never)
          .execute(async () => {}),
      );
      assert.ok((await count()) > 0);
    });

    it('grouped statements: one failing never fails the others', async () => {
      // Forty concurrent grouped inserts and a duplicate key: the duplicate alone fails.
      const ids = Array.from({ length: 40 }, (_, i) => 400 + i);
      const outcomes = await Promise.allSettled([
        ...ids.map((id) =>
          executeGrouped(s.db, sql`insert into probe (id, v) values (${id}, 'g') returning id`),
        ),
        executeGrouped(s.db, sql`insert into probe (id, v) values (${400}, 'duplicate') returning id`),
      ]);
      assert.equal(outcomes.filter((o) => o.status === 'rejected').length, 1);
      assert.equal(await count(sql`id between 400 and 439`), 40);
      assert.equal(await count(sql`v = 'duplicate'`), 0);
    });
  });
}
