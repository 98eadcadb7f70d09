// test-backend: external — the subject is the PostgreSQL driver's named statements
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { openStorage, type Storage } from '../../src/db/connection.js';
import { isUniqueViolation } from '../../src/db/errors.js';
import { createTestSchema } from '../helpers/storage.js';

// On PostgreSQL, queries run as named prepared statements (parsed and planned once per
// connection), unless DATABASE_PREPARED_STATEMENTS is false. Results, errors and transactions are
// unchanged, and a schema change under a prepared statement does not break it.

let schema: Awaited<ReturnType<typeof createTestSchema>>;
let prepared: Storage;
let unprepared: Storage;

before(async () => {
  schema = await createTestSchema(process.env.DATABASE_URL!);
  const url = schema.url;
  // One connection each, so that what one statement prepares the next one sees.
  prepared = await openStorage({ databaseUrl: url, poolSize: 1 });
  unprepared = await openStorage({ databaseUrl: url, poolSize: 1, preparedStatements: false });
  await sql`create table notes (id int primary key, body text, at timestamptz)`.execute(prepared.db);
});
after(async () => {
  await prepared.close();
  await unprepared.close();
  await schema.drop();
});

const statements = async (s: Storage) =>
  (
    await sql<{
      n: number;
    }>`select count(*)::int as n from pg_prepared_statements where name like 'lk\\_%'`.execute(s.db)
  ).rows[0]!.n;

describe('PostgreSQL queries as named prepared statements', () => {
  it('prepares a query once per connection and answers it as before', async () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    for (let i = 1; i <= 3; i++)
      await sql`insert into notes (id, body, at) values (${i}, ${`note ${i}`}, ${at})`.execute(prepared.db);
    const n = await statements(prepared);
    for (let i = 1; i <= 3; i++) {
      const r = await sql<{ body: string; at: Date }>`select body, at from notes where id = ${i}`.execute(
        prepared.db,
      );
      assert.deepEqual(r.rows, [{ body: `note ${i}`, at }]);
    }
    assert.equal((await statements(prepared)) - n, 1, 'one statement for the three selects');
    await assert.rejects(
      sql`insert into notes (id, body) values (${1}, ${'again'})`.execute(prepared.db),
      (e: unknown) => isUniqueViolation(e),
    );
  });

  it('with DATABASE_PREPARED_STATEMENTS=false, prepares nothing', async () => {
    const r = await sql<{ body: string }>`select body from notes where id = ${2}`.execute(unprepared.db);
    assert.equal(r.rows[0]!.body, 'note 2');
    assert.equal(await statements(unprepared), 0);
  });

  it('a schema change under a prepared statement: the next call sees the new shape', async () => {
    const star = () => sql<Record<string, unknown>>`select * from notes where id = ${3}`.execute(prepared.db);
    assert.deepEqual(Object.keys((await star()).rows[0]!).sort(), ['at', 'body', 'id']);
    await sql`alter table notes add column tag text`.execute(unprepared.db);
    assert.deepEqual(Object.keys((await star()).rows[0]!).sort(), ['at', 'body', 'id', 'tag']);
  });
});
