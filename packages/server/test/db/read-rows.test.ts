import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { builtOnce } from '../../src/db/built-once.js';
import { readRows } from '../../src/db/read-rows.js';
import type { RowsStatement } from '../../src/db/rows-statement.js';
import { BACKEND, openTestStorage, type TestStorage } from '../helpers/storage.js';

// Reads of one rows statement made in the same turn share one execution; each caller still gets
// exactly its own rows (its positions, counted in its own array), a failure of the shared run
// never becomes another caller's, and in a transaction a read runs there, seeing its writes.
let s: TestStorage;
before(async () => {
  s = await openTestStorage();
  await sql`create table read_probe (k text primary key, v text not null)`.execute(s.storage.db);
  await sql`insert into read_probe (k, v) select 'k' || g, 'v' || g from generate_series(1, 50) g`.execute(
    s.storage.db,
  );
});
after(() => s.close());

/**
 * Finds each row's `k`, and stamps every answer with the execution's own id (the backend's
 * transaction id, never the same for two statements outside a transaction), so that a shared
 * execution shows. A row whose `k` is `fail` makes the statement fail (a division by zero).
 */
const FIND: RowsStatement<{ k: string; v: string; exec: string }> = builtOnce(
  (_db, p: { rows: string }) =>
    sql<{ n: number; k: string; v: string; exec: string }>`
    select e.n::int4 as n, read_probe.k, read_probe.v, txid_current()::text as exec
    from jsonb_array_elements(${p.rows}::jsonb) with ordinality as e(row, n)
    cross join lateral jsonb_to_record(e.row) as r(k text)
    join read_probe on read_probe.k = r.k
    where 1 / (case when r.k = 'fail' then 0 else 1 end) = 1`,
);

const find = (keys: string[]) =>
  readRows(
    s.storage.db,
    FIND,
    keys.map((k) => ({ k })),
  );

describe(`reads that share one execution (${BACKEND === 'external' ? 'PostgreSQL' : 'PGlite'})`, () => {
  it('answers each of many callers in one turn its own rows, from one execution', async () => {
    const asks = Array.from({ length: 20 }, (_, i) => [`k${i + 1}`, `missing${i}`, `k${i + 21}`]);
    const answers = await Promise.all(asks.map(find));
    answers.forEach((rows, i) => {
      // Positions in the caller's own array: the missing key (2) has no row.
      assert.deepEqual(
        rows.map((r) => [r.n, r.k, r.v]),
        [
          [1, `k${i + 1}`, `v${i + 1}`],
          [3, `k${i + 21}`, `v${i + 21}`],
        ],
      );
    });
    assert.equal(new Set(answers.flat().map((r) => r.exec)).size, 1, 'one execution for the turn');
  });

  it('runs callers of different turns apart', async () => {
    const first = await find(['k1']);
    const second = await find(['k1']);
    assert.notEqual(first[0]!.exec, second[0]!.exec);
  });

  it('answers no rows for no keys, without a statement', async () => {
    assert.deepEqual(await find([]), []);
  });

  it('fails only the caller whose rows fail the shared execution; the others get their rows', async () => {
    const [a, bad, c] = await Promise.allSettled([find(['k5']), find(['k6', 'fail']), find(['k7'])]);
    assert.equal(a.status, 'fulfilled');
    assert.deepEqual(a.status === 'fulfilled' && a.value.map((r) => r.k), ['k5']);
    assert.equal(bad.status, 'rejected');
    assert.match(String(bad.status === 'rejected' && (bad.reason as Error).message), /division by zero/);
    assert.deepEqual(c.status === 'fulfilled' && c.value.map((r) => r.k), ['k7']);
  });

  it('in a transaction, runs there at once and sees what the transaction wrote', async () => {
    await s.storage.db.transaction().execute(async (trx) => {
      await sql`insert into read_probe (k, v) values ('in-trx', 'written')`.execute(trx);
      const rows = await readRows(trx, FIND, [{ k: 'in-trx' }]);
      assert.deepEqual(
        rows.map((r) => r.v),
        ['written'],
      );
      await sql`delete from read_probe where k = 'in-trx'`.execute(trx);
    });
    assert.deepEqual(await find(['in-trx']), []);
  });
});
