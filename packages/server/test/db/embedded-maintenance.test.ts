import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { AUTOVACUUM, maintain } from '../../src/db/embedded-maintenance.js';
import { BACKEND, openTestStorage, type TestStorage } from '../helpers/storage.js';

// The embedded database's stand-in for autovacuum: a pass vacuums or analyzes exactly the tables
// autovacuum's thresholds say are due, and leaves the database's prepared statements working.
// (The server schedules it for PGlite only; the pass itself is plain PostgreSQL and runs on both.)
let s: TestStorage;
before(async () => {
  s = await openTestStorage();
  const db = s.storage.db;
  await sql`create table maint_churn (id int primary key, v int not null)`.execute(db);
  await sql`create table maint_quiet (id int primary key, v int not null)`.execute(db);
  await sql`insert into maint_churn select g, 0 from generate_series(1, 500) g`.execute(db);
  await sql`insert into maint_quiet select g, 0 from generate_series(1, 500) g`.execute(db);
  // Both tables' first statistics, so that each test starts from tables that are not due.
  await statsShow('maint_quiet', (t) => t.modified >= 500);
  await maintain(db);
});
after(() => s.close());

interface Stats {
  dead: number;
  modified: number;
  vacuums: number;
  analyzes: number;
  xidAge: number;
}

async function stats(table: string): Promise<Stats> {
  const { rows } = await sql<Stats>`
    select n_dead_tup::int as dead, n_mod_since_analyze::int as modified,
      (vacuum_count + autovacuum_count)::int as vacuums, (analyze_count + autoanalyze_count)::int as analyzes,
      age(c.relfrozenxid)::int as "xidAge"
    from pg_stat_user_tables t join pg_class c on c.oid = t.relid
    where t.schemaname = current_schema() and t.relname = ${table}`.execute(s.storage.db);
  return rows[0]!;
}

/** PostgreSQL publishes a backend's table counts up to a second after its transaction: wait. */
async function statsShow(table: string, ready: (t: Stats) => boolean): Promise<Stats> {
  for (let i = 0; i < 100; i++) {
    const t = await stats(table);
    if (ready(t)) return t;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the statistics of ${table} never showed the change`);
}

describe(`embedded maintenance (${BACKEND === 'external' ? 'PostgreSQL' : 'PGlite'})`, () => {
  it('vacuums a table whose dead rows pass the threshold, and leaves the others alone', async () => {
    const db = s.storage.db;
    const quietBefore = await stats('maint_quiet');
    await sql`update maint_churn set v = v + 1`.execute(db);
    await statsShow('maint_churn', (t) => t.dead >= 500);

    const done = await maintain(db);
    const ours = done.filter((d) => d.table.startsWith('maint_'));
    assert.deepEqual(
      ours.map(({ table, work }) => ({ table, work })),
      [{ table: 'maint_churn', work: 'vacuum' }],
    );
    const churn = await statsShow('maint_churn', (t) => t.dead === 0);
    assert.ok(churn.vacuums >= 1);
    const quiet = await stats('maint_quiet');
    assert.equal(quiet.vacuums, quietBefore.vacuums);
    assert.equal(quiet.analyzes, quietBefore.analyzes);
    // A second pass finds nothing of ours due.
    assert.deepEqual(
      (await maintain(db)).filter((d) => d.table.startsWith('maint_')),
      [],
    );
  });

  it('analyzes a table whose rows changed past the threshold without leaving dead ones', async () => {
    const db = s.storage.db;
    const before = await stats('maint_quiet');
    // 200 new rows: past ANALYZE's threshold (50 + 10 %), short of VACUUM's for inserts (1 000 + 20 %).
    await sql`insert into maint_quiet select g, 0 from generate_series(501, 700) g`.execute(db);
    await statsShow('maint_quiet', (t) => t.modified >= 200);

    const ours = (await maintain(db)).filter((d) => d.table.startsWith('maint_'));
    assert.deepEqual(
      ours.map(({ table, work }) => ({ table, work })),
      [{ table: 'maint_quiet', work: 'analyze' }],
    );
    const after = await statsShow('maint_quiet', (t) => t.modified === 0);
    assert.equal(after.analyzes, before.analyzes + 1);
    assert.equal(after.vacuums, before.vacuums);
  });

  it('vacuums a table whose transaction ids grow older than the freeze age, dead rows or not', async () => {
    const db = s.storage.db;
    // More write transactions, so that the table's oldest transaction id has some age.
    for (let i = 0; i < 3; i++) await sql`update maint_churn set v = v + 1 where id = 1`.execute(db);
    const before = await stats('maint_quiet');
    assert.ok(before.xidAge > 0);
    const done = await maintain(db, { ...AUTOVACUUM, freezeAge: 0 });
    assert.ok(done.some((d) => d.table === 'maint_quiet' && d.work === 'vacuum'));
    await statsShow('maint_quiet', (t) => t.vacuums === before.vacuums + 1);
  });

  it('leaves prepared statements working across a pass', async () => {
    const db = s.storage.db;
    const read = () => sql<{ v: number }>`select v from maint_quiet where id = ${700}`.execute(db);
    assert.deepEqual((await read()).rows, [{ v: 0 }]);
    await maintain(db, { ...AUTOVACUUM, freezeAge: 0 });
    assert.deepEqual((await read()).rows, [{ v: 0 }]);
  });
});
