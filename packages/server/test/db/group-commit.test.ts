import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { builtOnce } from '../../src/db/built-once.js';
import { executeGrouped, executeRows } from '../../src/db/group-commit.js';
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
  await sql`create table rows_probe (id int primary key, exec bigint not null)`.execute(s.storage.db);
  await sql`create sequence rows_probe_exec`.execute(s.storage.db);
});
after(() => s.close());

const insert = (id: number, v: string) =>
  executeGrouped(
    s.storage.db,
    sql<{ id: number }>`insert into group_commit_probe (id, v) values (${id}, ${v}) returning id`,
  );

/**
 * A rows statement: inserts each row's `id` unless it says `skip`, and stamps every row it writes
 * with one number per execution (the sequence), so that a shared execution shows.
 */
const PROBE_ROWS = builtOnce(
  (_db, p: { rows: string }) =>
    sql<{ n: number }>`with x as (select nextval('rows_probe_exec') as exec),
    v as (
      select e.n::int4 as n, r.*
      from jsonb_array_elements(${p.rows}::jsonb) with ordinality as e(row, n)
      cross join lateral jsonb_to_record(e.row) as r(id int, skip boolean)
    ),
    w as (select * from v where not v.skip),
    i as (insert into rows_probe (id, exec) select w.id, x.exec from w cross join x)
    select n from w`,
);

/** The positions of the rows a rows statement answered. */
const positions = (rows: { n: number }[]) => rows.map((r) => r.n);
const probeRows = (rows: { id: number; skip: boolean }[]) =>
  executeRows(s.storage.db, PROBE_ROWS, rows).then(positions);

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

  it('runs concurrent callers of one rows statement together, and answers each its own rows', async () => {
    // Caller i sends i % 3 + 1 rows; some rows ask not to be written, so positions have gaps.
    const callers = Array.from({ length: 16 }, (_, i) =>
      Array.from({ length: (i % 3) + 1 }, (_, j) => ({ id: 5000 + i * 10 + j, skip: (i + j) % 4 === 3 })),
    );
    const answers = await Promise.all(callers.map(probeRows));
    assert.deepEqual(
      answers,
      callers.map((rows) => rows.flatMap((r, j) => (r.skip ? [] : [j + 1]))),
    );
    assert.ok(answers.some((a, i) => a.length < callers[i]!.length) && answers.some((a) => a.length === 0));
    const { rows } = await sql<{
      id: number;
      exec: string;
    }>`select id, exec from rows_probe where id between 5000 and 5999 order by id`.execute(s.storage.db);
    assert.deepEqual(
      rows.map((r) => r.id),
      callers
        .flat()
        .filter((r) => !r.skip)
        .map((r) => r.id),
    );
    // Fewer executions than callers: the ones that queued behind the first ran as one.
    assert.ok(new Set(rows.map((r) => r.exec)).size < callers.length);
  });

  it('never runs a committed group again: a failure after the commit fails its callers instead', async () => {
    await sql`create table rows_once (id int not null)`.execute(s.storage.db);
    // A broken rows statement: it writes every row but answers positions past the end, so the
    // answers of a shared execution cannot be split back, after its commit.
    const broken = builtOnce(
      (_db, p: { rows: string }) =>
        sql<{ n: number }>`with v as (
          select e.n::int4 as n, r.*
          from jsonb_array_elements(${p.rows}::jsonb) with ordinality as e(row, n)
          cross join lateral jsonb_to_record(e.row) as r(id int)
        ), i as (insert into rows_once (id) select id from v)
        select n + 1000 as n from v`,
    );
    const outcomes = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => executeRows(s.storage.db, broken, [{ id: i }])),
    );
    // The callers that shared an execution could not be answered: they fail, and none ran again.
    assert.ok(
      outcomes.some((o) => o.status === 'rejected'),
      'some callers shared an execution',
    );
    const { rows } = await sql<{
      id: number;
      times: string;
    }>`select id, count(*) as times from rows_once group by id order by id`.execute(s.storage.db);
    assert.deepEqual(
      rows.map((r) => [r.id, Number(r.times)]),
      Array.from({ length: 12 }, (_, i) => [i, 1]),
    );
  });

  it('keeps callers of other statements, and of another rows statement, apart in a shared group', async () => {
    const other = builtOnce(
      (_db, p: { rows: string }) =>
        sql<{ n: number }>`with v as (
          select e.n::int4 as n, r.*
          from jsonb_array_elements(${p.rows}::jsonb) with ordinality as e(row, n)
          cross join lateral jsonb_to_record(e.row) as r(id int, skip boolean)
        ),
        w as (select * from v where v.skip),
        i as (insert into rows_probe (id, exec) select w.id, -1 from w)
        select n from w`,
    );
    const [a, b, c, d, e] = await Promise.all([
      probeRows([{ id: 5500, skip: false }]),
      executeRows(s.storage.db, other, [
        { id: 5501, skip: false },
        { id: 5502, skip: true },
      ]).then(positions),
      insert(5503, 'plain'),
      probeRows([
        { id: 5504, skip: true },
        { id: 5505, skip: false },
      ]),
      executeRows(s.storage.db, other, [{ id: 5506, skip: true }]).then(positions),
    ]);
    assert.deepEqual([a, b, c.rows, d, e], [[1], [2], [{ id: 5503 }], [2], [1]]);
    const { rows } = await sql<{
      id: number;
      exec: string;
    }>`select id, exec from rows_probe where id between 5500 and 5506 order by id`.execute(s.storage.db);
    assert.deepEqual(
      rows.map((r) => [r.id, Number(r.exec) === -1]),
      [
        [5500, false],
        [5502, true],
        [5505, false],
        [5506, true],
      ],
    );
  });

  it('fails only the caller whose row fails a shared execution; the others still commit', async () => {
    await probeRows([{ id: 6000, skip: false }]);
    const outcomes = await Promise.allSettled([
      probeRows([{ id: 6001, skip: false }]),
      probeRows([{ id: 6002, skip: false }]),
      probeRows([
        { id: 6003, skip: false },
        { id: 6000, skip: false },
      ]),
      probeRows([{ id: 6004, skip: false }]),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
    );
    assert.equal(((outcomes[2] as PromiseRejectedResult).reason as { code?: string }).code, '23505');
    const { rows } = await sql<{
      id: number;
    }>`select id from rows_probe where id between 6000 and 6999 order by id`.execute(s.storage.db);
    assert.deepEqual(
      rows.map((r) => r.id),
      [6000, 6001, 6002, 6004],
    );
  });

  it('runs a rows statement inside a transaction there, and rolls it back with it', async () => {
    await assert.rejects(
      s.storage.db.transaction().execute(async (trx) => {
        assert.deepEqual(positions(await executeRows(trx, PROBE_ROWS, [{ id: 7000, skip: false }])), [1]);
        throw new Error('roll back');
      }),
      /roll back/,
    );
    assert.deepEqual(await executeRows(s.storage.db, PROBE_ROWS, []), []);
    const { rows } = await sql<{ id: number }>`select id from rows_probe where id = 7000`.execute(
      s.storage.db,
    );
    assert.deepEqual(rows, []);
  });
});
