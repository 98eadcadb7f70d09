// test-backend: embedded — the subject is the embedded database's statement cache
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { openStorage, type Storage } from '../../src/db/connection.js';
import { isUniqueViolation } from '../../src/db/errors.js';
import { bindExecute, MAX_STATEMENTS, withPreparedStatements } from '../../src/db/pglite-prepared.js';
import { PGlite, protocol } from '@electric-sql/pglite';

// The embedded database keeps each query prepared (parsed and planned once). What it must not
// change: results, parameter types, errors, transactions, and a schema change under a prepared
// statement. What it must bound: how many statements it keeps.

let s: Storage;
before(async () => {
  s = await openStorage({ databaseUrl: null });
  await sql`create table notes (id int primary key, body text, meta jsonb, at timestamptz)`.execute(s.db);
});
after(() => s.close());

const prepared = async () =>
  (await sql<{ n: number }>`select count(*)::int as n from pg_prepared_statements`.execute(s.db)).rows[0]!.n;

describe('the embedded database prepares each query once', () => {
  it('answers a repeated query from one prepared statement, with every value type intact', async () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    for (let i = 1; i <= 5; i++)
      await sql`insert into notes (id, body, meta, at) values (${i}, ${`note ${i}`}, ${JSON.stringify({ i })}, ${at})`.execute(
        s.db,
      );
    const before = await prepared();
    for (let i = 1; i <= 5; i++) {
      const r = await sql<{ id: number; body: string; meta: { i: number }; at: Date }>`
        select id, body, meta, at from notes where id = ${i}`.execute(s.db);
      assert.deepEqual(r.rows, [{ id: i, body: `note ${i}`, meta: { i }, at }]);
    }
    // One new statement for the five selects (and the count itself, prepared on first use).
    const added = (await prepared()) - before;
    assert.ok(added >= 1 && added <= 2, `${added} new statements`);
    const none = await sql`select id from notes where body = ${null}`.execute(s.db);
    assert.deepEqual(none.rows, []);
  });

  it('keeps errors as they were, and the database usable after them', async () => {
    await assert.rejects(
      sql`insert into notes (id, body) values (${1}, ${'again'})`.execute(s.db),
      (e: unknown) => isUniqueViolation(e),
    );
    await assert.rejects(sql`select nonsense from notes where id = ${1}`.execute(s.db), /nonsense/);
    const r = await sql<{ n: number }>`select count(*)::int as n from notes where id > ${0}`.execute(s.db);
    assert.equal(r.rows[0]!.n, 5);
  });

  it('rolls a transaction back with its prepared statements in it', async () => {
    await assert.rejects(
      s.db.transaction().execute(async (trx) => {
        await sql`update notes set body = ${'changed'} where id = ${2}`.execute(trx);
        throw new Error('stop');
      }),
      /stop/,
    );
    const r = await sql<{ body: string }>`select body from notes where id = ${2}`.execute(s.db);
    assert.equal(r.rows[0]!.body, 'note 2');
  });

  it('a schema change under a prepared statement: the next call sees the new shape', async () => {
    const star = () => sql<Record<string, unknown>>`select * from notes where id = ${3}`.execute(s.db);
    assert.deepEqual(Object.keys((await star()).rows[0]!).sort(), ['at', 'body', 'id', 'meta']);
    await sql`alter table notes add column tag text`.execute(s.db);
    assert.deepEqual(Object.keys((await star()).rows[0]!).sort(), ['at', 'body', 'id', 'meta', 'tag']);
  });

  it('keeps its statements through VACUUM and ANALYZE, which change no statement’s shape', async () => {
    await sql`select body from notes where id = ${4}`.execute(s.db);
    const before = await prepared();
    await sql`vacuum (analyze) notes`.execute(s.db);
    await sql`analyze notes`.execute(s.db);
    assert.equal(await prepared(), before);
    const r = await sql<{ body: string }>`select body from notes where id = ${4}`.execute(s.db);
    assert.equal(r.rows[0]!.body, 'note 4');
    assert.equal(await prepared(), before);
  });

  it(`keeps at most ${MAX_STATEMENTS} statements, closing the least recently used`, async () => {
    for (let i = 0; i < MAX_STATEMENTS + 50; i++)
      await sql`select ${i}::int + ${sql.raw(String(i))} as n`.execute(s.db);
    // The count itself is one more, closed with the next statement.
    const n = await prepared();
    assert.ok(n <= MAX_STATEMENTS + 1 && n >= MAX_STATEMENTS - 1, `${n} prepared`);
    const r = await sql<{ n: number }>`select ${2}::int + 2 as n`.execute(s.db);
    assert.equal(r.rows[0]!.n, 4);
  });

  it("reads every value and error exactly as PGlite's own reader does, across output chunks", async () => {
    const pglite = await PGlite.create();
    try {
      const db = withPreparedStatements(pglite);
      await db.query(`create table v (id int primary key, big bigint, num numeric, ok boolean, body text,
        doc jsonb, plain json, at timestamptz, day date, uid uuid, tags text[], raw bytea, constraint v_body_key unique (body))`);
      const values = [
        [
          1,
          '9007199254740993',
          '12.50',
          true,
          'plain',
          '{"a":[1,"é"]}',
          '[1]',
          new Date('2026-01-02T03:04:05.678Z'),
          '2026-01-02',
          '6f1c0e0a-7d2b-4c54-9a53-8f0e2f2b9d11',
          ['x', 'y z'],
          new Uint8Array([0, 1, 255]),
        ],
        [2, null, null, false, 'é 中 🙂 \\ "quoted"', null, null, null, null, null, [], null],
        [3, '-1', '0', null, '', '{}', 'null', null, null, null, null, new Uint8Array(0)],
      ];
      for (const row of values)
        await db.query('insert into v values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)', row);
      const select = 'select *, id as again, body as again from v where id > $1 order by id';
      assert.deepEqual((await db.query(select, [0])).rows, (await pglite.query(select, [0])).rows);
      // Thousands of rows: PostgreSQL hands its output over in several chunks.
      const many = 'select g as n, repeat($1, 50) as pad from generate_series(1, 5000) g';
      const ours = await db.query<{ n: number; pad: string }>(many, ['é']);
      assert.deepEqual(ours.rows, (await pglite.query(many, ['é'])).rows);
      assert.equal(ours.rows.length, 5000);
      // An error keeps its fields (code, constraint, detail), as PGlite reports them.
      const duplicate = 'insert into v (id, body) values ($1, $2)';
      const theirs = await pglite.query(duplicate, [4, 'plain']).catch((e: unknown) => e);
      const mine = await db.query(duplicate, [4, 'plain']).catch((e: unknown) => e);
      const fields = (e: unknown) => {
        const { code, constraint, detail, table, message } = e as Record<string, unknown>;
        return { code, constraint, detail, table, message, isError: e instanceof Error };
      };
      assert.equal(fields(mine).code, '23505');
      assert.equal(fields(mine).constraint, 'v_body_key');
      assert.deepEqual(fields(mine), fields(theirs));
    } finally {
      await pglite.close();
    }
  });

  it('runs a group as one transaction: every statement commits, or none does', async () => {
    const pglite = await PGlite.create();
    try {
      const db = withPreparedStatements(pglite);
      await db.query('create table g (id int primary key, v text)');
      const insert = 'insert into g (id, v) values ($1, $2) returning id';
      const results = await db.group([
        { sql: insert, params: [1, 'a'] },
        { sql: 'update g set v = $1 where id = $2 returning v', params: ['b', 1] },
        { sql: 'select count(*)::int as n from g where id > $1', params: [0] },
      ]);
      assert.deepEqual(
        results.map((r) => r.rows),
        [[{ id: 1 }], [{ v: 'b' }], [{ n: 1 }]],
      );
      assert.deepEqual(
        results.map((r) => r.affectedRows),
        [1, 1, 0],
      );
      // The second statement fails: the first one's row is not committed either.
      await assert.rejects(
        db.group([
          { sql: insert, params: [2, 'c'] },
          { sql: insert, params: [1, 'duplicate'] },
        ]),
        (e: unknown) => isUniqueViolation(e),
      );
      // A statement PostgreSQL cannot parse fails the group before anything runs.
      await assert.rejects(
        db.group([
          { sql: insert, params: [3, 'd'] },
          { sql: 'select nonsense from g where id = $1', params: [1] },
        ]),
        /nonsense/,
      );
      const left = await db.query<{ id: number; v: string }>(
        'select id, v from g where id > $1 order by id',
        [0],
      );
      assert.deepEqual(left.rows, [{ id: 1, v: 'b' }]);
      // And the connection is usable, outside any transaction, after both failures.
      await db.query(insert, [4, 'e']);
      assert.equal(
        (await db.query<{ n: number }>('select count(*)::int as n from g where id > $1', [0])).rows[0]!.n,
        2,
      );
    } finally {
      await pglite.close();
    }
  });
});

describe('the Bind and Execute messages', () => {
  it("are the bytes PGlite's protocol serializer writes, for every kind of text value", () => {
    const cases: (string | null)[][] = [
      [],
      [null],
      [''],
      ['abc', null, 'zürich — 東京 🚀', '{"a":[1,2]}', '2026-01-02T03:04:05.678Z'],
      ['x'.repeat(70_000), null, ''],
    ];
    for (const name of ['lk_1', 'lk_123456']) {
      for (const values of cases) {
        const expected = Buffer.concat([
          protocol.serialize.bind({ statement: name, values }),
          protocol.serialize.execute({}),
        ]);
        assert.deepEqual(Buffer.from(bindExecute(name, values)), expected, `${name} ${values.length} values`);
      }
    }
  });
});
