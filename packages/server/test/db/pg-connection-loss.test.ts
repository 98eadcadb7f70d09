// test-backend: external — terminates its own PostgreSQL backend
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import pg from 'pg';
import { BACKEND, openTestStorage, type TestStorage } from '../helpers/storage.js';

// A connection that PostgreSQL drops while the server holds it between two statements (a
// transaction when the database restarts, or an administrator terminates the backend) must fail
// that transaction, not the process: node-postgres emits the loss as an 'error' event on a
// checked-out client, and an event nobody listens to ends a Node process.

const external = BACKEND === 'external';
let s: TestStorage;
before(async () => {
  if (external) s = await openTestStorage();
});
after(async () => {
  if (external) await s.close();
});

describe(
  'PostgreSQL connection lost mid-transaction',
  { skip: external ? false : 'needs PostgreSQL' },
  () => {
    it('fails the transaction, keeps the process, and the pool serves the next statement', async () => {
      const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
      await admin.connect();
      try {
        const outcome = await s.storage.db
          .transaction()
          .execute(async (trx) => {
            const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
            // The backend goes away while this transaction holds the connection and sends nothing.
            await admin.query('select pg_terminate_backend($1)', [rows[0]!.pid]);
            await sleep(200);
            await sql`select 1`.execute(trx);
            return 'committed';
          })
          .catch((err: unknown) => err);
        assert.ok(outcome instanceof Error, `the transaction failed: ${String(outcome)}`);
        const { rows } = await sql<{ one: number }>`select 1 as one`.execute(s.storage.db);
        assert.equal(rows[0]!.one, 1, 'the pool replaced the lost connection');
      } finally {
        await admin.end();
      }
    });
  },
);
