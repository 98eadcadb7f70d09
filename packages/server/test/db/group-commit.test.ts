import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { executeGrouped } from '../../src/db/group-commit.js';
import { BACKEND, openTestStorage, type TestStorage } from '../helpers/storage.js';

// Group commit (embedded) or straight to the pool (PostgreSQL): either way, every caller gets its
// own statement's outcome, single-use rows are consumed once, one failure never fails the others,
// and grouped statements never mix with a transaction that holds the connection.
let s: TestStorage;
before(async () => {
  s = await openTestStorage();
  await sql`create table group_commit_probe (id int primary key, v text not null, used boolean not null default false)`.execute(
    s.storage.db,
  );
});
after(() => s.close());

const insert = (id: number, v: string) =>
  executeGrouped(
    s.storage.db,
    sql<{ id: number }>`insert into group_commit_probe (id, v) values (${id}, ${v}) returning id`,
  );

async function count(where = sql`true`): Promise<number> {
  const { rows } = await sql<{
    n: string;
  }>`select count(*) as n from group_commit_probe where ${where}`.execute(s.storage.db);
  return Number(rows[0]!.n);
}

describe(`group commit (${BACKEND === 'external' ? 'PostgreSQL' : 'PGlite'})`, () => {
  it('answers each of many concurrent statements with its own rows, and commits them all', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => 1000 + i);
    const results = await Promise.all(ids.map((id) => insert(id, `v${id}`)));
    assert.deepEqual(
      results.map((r) => r.rows),
      ids.map((id) => [{ id }]),
    );
    assert.equal(await count(sql`id between 1000 and 1039`), 40);
  });

  it('consumes a single-use row exactly once when many race for it', async () => {
    await sql`insert into group_commit_probe (id, v) values (2000, 'once')`.execute(s.storage.db);
    const results = await Promise.all(
      Array.from({ length: 12 }, () =>
        executeGrouped(
          s.storage.db,
          sql<{
            id: number;
          }>`update group_commit_probe set used = true where id = 2000 and used = false returning id`,
        ),
      ),
    );
    assert.equal(results.filter((r) => r.rows.length === 1).length, 1);
  });

  it('fails only the statement that fails: the others in its group still commit', async () => {
    await sql`insert into group_commit_probe (id, v) values (3000, 'taken')`.execute(s.storage.db);
    const outcomes = await Promise.allSettled([
      insert(3001, 'a'),
      insert(3000, 'duplicate'),
      insert(3002, 'b'),
      insert(3003, 'c'),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
    );
    const failed = outcomes[1] as PromiseRejectedResult;
    assert.equal((failed.reason as { code?: string }).code, '23505');
    assert.equal(await count(sql`id between 3001 and 3003`), 3);
    const { rows } = await sql<{ v: string }>`select v from group_commit_probe where id = 3000`.execute(
      s.storage.db,
    );
    assert.equal(rows[0]!.v, 'taken');
  });

  it('never runs inside a transaction that holds the connection, nor shares its rollback', async () => {
    let grouped: Promise<unknown> | null = null;
    await assert.rejects(
      s.storage.db.transaction().execute(async (trx) => {
        await sql`insert into group_commit_probe (id, v) values (4000, 'in the transaction')`.execute(trx);
        // Issued while the transaction is open; it must land on its own, after it.
        grouped = Promise.all([insert(4001, 'grouped'), insert(4002, 'grouped')]);
        await new Promise((r) => setTimeout(r, 20));
        throw new Error('roll back');
      }),
      /roll back/,
    );
    await grouped;
    assert.equal(await count(sql`id = 4000`), 0);
    assert.equal(await count(sql`id in (4001, 4002)`), 2);
  });
});
