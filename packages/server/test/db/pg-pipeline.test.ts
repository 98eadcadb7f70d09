// test-backend: external — the subject is the PostgreSQL driver's pipelined groups
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type CompiledQuery, sql } from 'kysely';
import pg from 'pg';
import { openStorage, type Storage } from '../../src/db/connection.js';
import { enableGroupCommit, executeGrouped } from '../../src/db/group-commit.js';
import { runPipeline } from '../../src/db/pg-pipeline.js';
import { statementNamer } from '../../src/db/pg-prepared.js';
import { createTestSchema } from '../helpers/storage.js';

// On PostgreSQL a group of single-statement writes is one pipeline on one connection: every
// statement's Bind/Execute, one Sync, one implicit transaction. Each statement answers as it would
// alone (types parsed the same), the group commits whole or not at all, and the connection's
// record of what it has prepared stays true after a failure.

let schema: Awaited<ReturnType<typeof createTestSchema>>;
let storage: Storage;
let pool: pg.Pool;

before(async () => {
  schema = await createTestSchema(process.env.DATABASE_URL!);
  storage = await openStorage({ databaseUrl: schema.url, poolSize: 3 });
  // One connection: what a pipeline prepares, the next pipeline finds.
  pool = new pg.Pool({ connectionString: schema.url, max: 1 });
  await sql`create table piped (id int primary key, body jsonb not null, at timestamptz, note text)`.execute(
    storage.db,
  );
});
after(async () => {
  await pool.end();
  await storage.close();
  await schema.drop();
});

const compile = (q: { compile(db: Storage['db']): CompiledQuery }) => q.compile(storage.db);
/** An insert; a different `tag` makes a different statement text (one its connection has not prepared). */
const insert = (id: number, note: string | null = null, tag = '') =>
  compile(
    sql`insert into piped (id, body, at, note) values (${id}, ${JSON.stringify({ id, tags: ['a'] })}::jsonb, ${new Date(Date.UTC(2026, 0, id))}, ${note}) returning id, body, at, note ${sql.raw(tag ? `/* ${tag} */` : '')}`,
  );
const backend = async () => (await pool.query('select pg_backend_pid() as pid')).rows[0].pid as number;
const count = async (where = sql`true`) =>
  Number(
    (await sql<{ n: string }>`select count(*) as n from piped where ${where}`.execute(storage.db)).rows[0]!.n,
  );
const prepared = async () =>
  Number((await pool.query(`select count(*) as n from pg_prepared_statements`)).rows[0].n);

describe('PostgreSQL pipelined groups', () => {
  it('answers each statement as it would alone, and commits them all', async () => {
    const nameOn = statementNamer();
    const results = await runPipeline(
      pool,
      [insert(1), insert(2, 'two'), compile(sql`select 1 as one`)],
      nameOn,
    );
    assert.deepEqual(results[0]!.rows, [
      { id: 1, body: { id: 1, tags: ['a'] }, at: new Date(Date.UTC(2026, 0, 1)), note: null },
    ]);
    assert.equal(results[0]!.numAffectedRows, 1n);
    assert.deepEqual(results[1]!.rows, [
      { id: 2, body: { id: 2, tags: ['a'] }, at: new Date(Date.UTC(2026, 0, 2)), note: 'two' },
    ]);
    assert.deepEqual(results[2]!.rows, [{ one: 1 }]);
    assert.equal(results[2]!.numAffectedRows, undefined);
    // The same texts again on the same connection: bound to what it prepared, nothing parsed anew.
    const before = await prepared();
    assert.equal(before, 2, 'the insert and the select, each prepared once');
    await runPipeline(pool, [insert(3), insert(4)], nameOn);
    assert.equal(await prepared(), before);
    assert.equal(await count(sql`id between 1 and 4`), 4);
  });

  it('commits nothing of a group when one statement fails, and the connection stays truthful', async () => {
    const nameOn = statementNamer();
    const first = await backend();
    // The group prepares a statement its connection has not seen, then fails.
    await assert.rejects(
      runPipeline(
        pool,
        [insert(10, null, 'fresh'), insert(1, null, 'fresh'), insert(11, null, 'fresh')],
        nameOn,
      ),
      (e: unknown) => e instanceof pg.DatabaseError && e.code === '23505',
    );
    assert.equal(await count(sql`id in (10, 11)`), 0);
    // Whether that Parse ran before the failure cannot be told: the connection was closed, and
    // the same statement prepares again on a fresh one.
    const second = await backend();
    assert.notEqual(second, first);
    const again = await runPipeline(pool, [insert(10, null, 'fresh'), insert(11, null, 'fresh')], nameOn);
    assert.equal(again.length, 2);
    assert.equal(await count(sql`id in (10, 11)`), 2);
    // A failure that parsed nothing keeps its connection, and its prepared statements work on.
    await assert.rejects(runPipeline(pool, [insert(12, null, 'fresh'), insert(12, null, 'fresh')], nameOn), {
      code: '23505',
    });
    assert.equal(await backend(), second);
    await runPipeline(pool, [insert(12, null, 'fresh'), insert(13, null, 'fresh')], nameOn);
    assert.equal(await count(sql`id in (12, 13)`), 2);
  });

  it('with prepared statements off, runs every statement unnamed and prepares nothing', async () => {
    const before = await prepared();
    const results = await runPipeline(
      pool,
      [insert(30, null, 'unnamed'), insert(31, null, 'unnamed')],
      () => null,
    );
    assert.deepEqual(
      results.map((r) => (r.rows[0] as { id: number }).id),
      [30, 31],
    );
    assert.equal(await prepared(), before);
  });

  it('refuses a value it cannot send before writing anything', async () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const bad = compile(sql`select ${circular} as v`);
    await assert.rejects(runPipeline(pool, [insert(20), bad], statementNamer()));
    assert.equal(await count(sql`id = 20`), 0);
    assert.equal((await pool.query('select 1 as ok')).rows[0].ok, 1);
  });

  it('groups concurrent writes through executeGrouped: each caller its own outcome', async () => {
    const ids = Array.from({ length: 30 }, (_, i) => 100 + i);
    const outcomes = await Promise.allSettled([
      ...ids.map((id) => executeGrouped(storage.db, insert(id))),
      executeGrouped(storage.db, insert(1)),
    ]);
    assert.deepEqual(
      outcomes.slice(0, -1).map((o) => o.status === 'fulfilled' && (o.value.rows[0] as { id: number }).id),
      ids,
    );
    const dup = outcomes.at(-1) as PromiseRejectedResult;
    assert.equal((dup.reason as { code?: string }).code, '23505');
    assert.equal(await count(sql`id between 100 and 129`), 30);
  });

  // Last: it replaces the storage's group runner.
  it('a group lost without an answer from PostgreSQL fails every caller, and none runs again alone', async () => {
    // The connection dropped after the Sync: the group may have committed, so running a code
    // exchange again alone could consume its code twice. Only PostgreSQL's own error proves a rollback.
    enableGroupCommit(storage.db, () => Promise.reject(new Error('Connection terminated unexpectedly')), {
      retryAlone: (err) => err instanceof pg.DatabaseError,
    });
    const outcomes = await Promise.allSettled(
      [200, 201, 202].map((id) => executeGrouped(storage.db, insert(id))),
    );
    // The first ran alone at once; the two that queued behind it were one group.
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'rejected'],
    );
    assert.match(String((outcomes[1] as PromiseRejectedResult).reason), /terminated unexpectedly/);
    assert.equal(await count(sql`id between 200 and 202`), 1);
  });
});
