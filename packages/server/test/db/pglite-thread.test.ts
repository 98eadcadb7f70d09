import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { isUniqueViolation } from '../../src/db/errors.js';
import { openStorage, type Storage } from '../../src/db/connection.js';
import { migrate } from '../../src/db/migrate.js';
import { newId } from '../../src/lib/secrets.js';

// The embedded database on its own worker thread (what the server runs on a data folder): every
// value type the app reads, PostgreSQL's error fields, transactions under concurrency, snapshots,
// and a reopened data folder, through the same Kysely dialect the in-process database uses.
// The thread is independent of the test backend, so this file runs the same on both.

let dir: string;
let s: Storage;
const now = new Date('2026-01-01T00:00:00.123Z');

// A fresh data folder starts from the suite's migrated snapshot when there is one (initdb is slow).
const template = process.env.LATCHKEY_TEST_TEMPLATE;
const seed = template && existsSync(template) ? template : null;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latchkey-pglite-thread-'));
  s = await openStorage({
    databaseUrl: null,
    dataDir: join(dir, 'data'),
    ...(seed ? { loadDataDir: new Blob([readFileSync(seed)]) } : {}),
  });
  await migrate(s.db as never, s.kind);
});
after(async () => {
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

function user(email: string) {
  return {
    id: newId(),
    email,
    name: 'N',
    password_hash: null,
    email_verified_at: now,
    created_at: now,
    updated_at: now,
  };
}

describe('PGlite on its own thread', () => {
  it('returns dates, JSON, numbers, booleans, bytes and nulls as the in-process database does', async () => {
    const { rows } = await sql<{
      at: Date;
      doc: { a: number[]; b: string };
      n: number;
      big: string;
      yes: boolean;
      bytes: Uint8Array;
      none: null;
    }>`select ${now}::timestamptz as at, '{"a":[1,2],"b":"x"}'::jsonb as doc, 42::int as n,
         count(*) as big, true as yes, '\\x00ff'::bytea as bytes, null as none
       from (values (1), (2)) as v(x)`.execute(s.db);
    const r = rows[0]!;
    assert.ok(r.at instanceof Date);
    assert.equal(r.at.toISOString(), now.toISOString());
    assert.deepEqual(r.doc, { a: [1, 2], b: 'x' });
    assert.equal(r.n, 42);
    assert.equal(Number(r.big), 2);
    assert.equal(r.yes, true);
    assert.deepEqual([...r.bytes], [0, 255]);
    assert.equal(r.none, null);
  });

  it('reports affected rows and carries PostgreSQL error fields across (a unique violation stays one)', async () => {
    const u = user('thread-unique@example.com');
    await s.db.insertInto('users').values(u).execute();
    const res = await s.db.updateTable('users').set({ name: 'M' }).where('id', '=', u.id).executeTakeFirst();
    assert.equal(res.numUpdatedRows, 1n);
    const err = await s.db
      .insertInto('users')
      .values(user('thread-unique@example.com'))
      .execute()
      .then(
        () => null,
        (e: unknown) => e,
      );
    assert.ok(err instanceof Error);
    assert.ok(isUniqueViolation(err), 'code 23505 survives the thread boundary');
    assert.equal((err as unknown as { constraint?: string }).constraint !== undefined, true);
    // The thread still answers after a failed statement.
    const again = await s.db
      .selectFrom('users')
      .select('email')
      .where('id', '=', u.id)
      .executeTakeFirstOrThrow();
    assert.equal(again.email, 'thread-unique@example.com');
  });

  it('runs statements sent in one turn together, and each still answers as it would alone', async () => {
    // Two statements in one turn cross in one message and run in one implicit transaction.
    const [x, y] = await Promise.all([
      sql<{ id: string }>`select pg_current_xact_id()::text as id`.execute(s.db),
      sql<{ id: string }>`select pg_current_xact_id()::text as id`.execute(s.db),
    ]);
    assert.equal(x.rows[0]!.id, y.rows[0]!.id, 'one transaction for both');
    const z = await sql<{ id: string }>`select pg_current_xact_id()::text as id`.execute(s.db);
    assert.notEqual(z.rows[0]!.id, x.rows[0]!.id, 'a statement sent later has its own');

    // One of them fails: that one fails alone, and what was sent beside it commits.
    const taken = user('thread-together-taken@example.com');
    await s.db.insertInto('users').values(taken).execute();
    const first = user('thread-together-1@example.com');
    const second = user('thread-together-2@example.com');
    const [a, b, c, d] = await Promise.allSettled([
      s.db.insertInto('users').values(first).execute(),
      s.db.insertInto('users').values(user('thread-together-taken@example.com')).execute(),
      s.db.insertInto('users').values(second).execute(),
      s.db.selectFrom('users').select('email').where('id', '=', taken.id).executeTakeFirstOrThrow(),
    ]);
    assert.equal(a.status, 'fulfilled');
    assert.equal(b.status, 'rejected');
    assert.ok(isUniqueViolation(b.reason), 'the unique violation reaches its own caller');
    assert.equal(c.status, 'fulfilled');
    assert.deepEqual(d.status === 'fulfilled' && d.value, { email: 'thread-together-taken@example.com' });
    const stored = await s.db
      .selectFrom('users')
      .select('email')
      .where('id', 'in', [first.id, second.id])
      .orderBy('email')
      .execute();
    assert.deepEqual(
      stored.map((r) => r.email),
      ['thread-together-1@example.com', 'thread-together-2@example.com'],
    );

    // Inside a transaction block nothing is run together: a failure there is the transaction's.
    await assert.rejects(
      s.db.transaction().execute(async (trx) => {
        await Promise.all([
          trx.insertInto('users').values(user('thread-together-3@example.com')).execute(),
          trx.insertInto('users').values(user('thread-together-taken@example.com')).execute(),
        ]);
      }),
      (err: unknown) => isUniqueViolation(err),
    );
    assert.equal(
      await s.db
        .selectFrom('users')
        .select('id')
        .where('email', '=', 'thread-together-3@example.com')
        .executeTakeFirst(),
      undefined,
      'the transaction rolled back as a whole',
    );
  });

  it('rolls a failed transaction back and keeps concurrent transactions apart', async () => {
    const a = user('thread-rollback@example.com');
    await assert.rejects(
      s.db.transaction().execute(async (trx) => {
        await trx.insertInto('users').values(a).execute();
        throw new Error('abort');
      }),
      /abort/,
    );
    assert.equal(
      await s.db.selectFrom('users').select('id').where('id', '=', a.id).executeTakeFirst(),
      undefined,
    );

    // Twenty transactions at once, each reading then writing: the dialect's mutex serialises them,
    // so every increment lands.
    const counter = user('thread-counter@example.com');
    await s.db
      .insertInto('users')
      .values({ ...counter, name: '0' })
      .execute();
    await Promise.all(
      Array.from({ length: 20 }, () =>
        s.db.transaction().execute(async (trx) => {
          const row = await trx
            .selectFrom('users')
            .select('name')
            .where('id', '=', counter.id)
            .executeTakeFirstOrThrow();
          await trx
            .updateTable('users')
            .set({ name: String(Number(row.name) + 1) })
            .where('id', '=', counter.id)
            .execute();
        }),
      ),
    );
    const final = await s.db
      .selectFrom('users')
      .select('name')
      .where('id', '=', counter.id)
      .executeTakeFirstOrThrow();
    assert.equal(final.name, '20');
  });

  it('snapshots the database, and a snapshot opens in memory with the same rows', async () => {
    const u = user('thread-snapshot@example.com');
    await s.db.insertInto('users').values(u).execute();
    const blob = await s.dump!();
    assert.ok(blob.size > 0);
    const copy = await openStorage({ databaseUrl: null, loadDataDir: blob, thread: true });
    try {
      const row = await copy.db.selectFrom('users').select('email').where('id', '=', u.id).executeTakeFirst();
      assert.equal(row?.email, 'thread-snapshot@example.com');
    } finally {
      await copy.close();
    }
    // Closed: every call fails at once instead of waiting on a thread that is gone.
    await assert.rejects(copy.ping());
  });

  it('does not keep a finished process alive, and what it committed is there on reopening', async () => {
    const data = join(dir, 'reopen');
    const script = (body: string) =>
      spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', body], {
        cwd: process.cwd(),
        encoding: 'utf8',
        timeout: 120_000,
      });
    const connection = JSON.stringify(new URL('../../src/db/connection.ts', import.meta.url).pathname);
    // The first process never closes its storage: it must still exit once its work is done.
    const first = script(`
      import { readFileSync } from 'node:fs';
      import { openStorage } from ${connection};
      import { sql } from 'kysely';
      const seed = ${JSON.stringify(seed)};
      const s = await openStorage({
        databaseUrl: null,
        dataDir: ${JSON.stringify(data)},
        ...(seed ? { loadDataDir: new Blob([readFileSync(seed)]) } : {}),
      });
      await sql\`create table kept (v text)\`.execute(s.db);
      await sql\`insert into kept values ('acknowledged')\`.execute(s.db);
      console.log('written');`);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /written/);
    const reopened = await openStorage({ databaseUrl: null, dataDir: data });
    try {
      const { rows } = await sql<{ v: string }>`select v from kept`.execute(reopened.db);
      assert.deepEqual(rows, [{ v: 'acknowledged' }]);
    } finally {
      await reopened.close();
    }
    assert.ok(existsSync(join(data, 'pgdata')));
    assert.ok(readFileSync(join(data, 'pgdata', 'PG_VERSION'), 'utf8').length > 0);
  });
});
