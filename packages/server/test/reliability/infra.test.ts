// test-backend: embedded — starts its own PostgreSQL and Redis, which it stops and starts
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { BACKEND } from '../helpers/storage.js';
import { faultInfraMissing, type OwnPostgres, startPostgres } from './infra.js';

// The fault tests stop their own PostgreSQL as a crash does (`immediate`). A real PostgreSQL keeps
// every commit it acknowledged across a crash, so the test's must too: with asynchronous commit
// it dropped the last few hundred milliseconds of writes, and a personal token minted just
// before an outage was gone after it (a 401 that was the test's doing, not Latchkey's).

const missing = faultInfraMissing();
const skip = BACKEND !== 'embedded' ? 'runs once, in the embedded pass' : (missing ?? false);

let pgsql: OwnPostgres;

before(async () => {
  if (!skip) pgsql = await startPostgres();
});
after(async () => {
  await pgsql?.destroy();
});

/** Writes through an open pool, as a server does: the connection stays up until the crash. */
async function crashRounds(rounds: number): Promise<void> {
  const pool = new pg.Pool({ connectionString: pgsql.url, max: 1 });
  pool.on('error', () => {}); // the crash drops the idle connection
  try {
    await pool.query('create table if not exists acknowledged (id int primary key)');
    for (let i = 0; i < rounds; i++) {
      await pool.query('insert into acknowledged values ($1)', [i]);
      await pgsql.stop();
      await pgsql.start();
    }
  } finally {
    await pool.end();
  }
}

describe("the fault tests' own PostgreSQL", { skip }, () => {
  it('keeps every acknowledged commit across a crash stop', async () => {
    const rounds = 5;
    await crashRounds(rounds);
    const c = new pg.Client({ connectionString: pgsql.url });
    await c.connect();
    const { rows } = await c.query<{ id: number }>('select id from acknowledged order by id');
    await c.end();
    assert.deepEqual(
      rows.map((r) => r.id),
      Array.from({ length: rounds }, (_, i) => i),
    );
  });
});
