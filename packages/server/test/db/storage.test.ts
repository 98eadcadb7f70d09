import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { migrate, migrationNames } from '../../src/db/migrate.js';
import { newId } from '../../src/lib/secrets.js';
import { BACKEND, openTestStorage, type TestStorage } from '../helpers/storage.js';

// One storage suite, run on PGlite (embedded backend) and on PostgreSQL (external backend).
let s: TestStorage;
before(async () => {
  s = await openTestStorage();
});
after(() => s.close());

const now = new Date('2026-01-01T00:00:00Z');
function user(email: string) {
  return {
    id: newId(),
    email,
    name: 'N',
    password_hash: null,
    email_verified_at: null,
    created_at: now,
    updated_at: now,
  };
}

describe(`storage (${BACKEND === 'external' ? 'PostgreSQL' : 'PGlite'})`, () => {
  it('has applied every migration exactly once, and migrating again does nothing', async () => {
    const rows = await sql<{ name: string }>`select name from latchkey_migrations order by name`.execute(
      s.storage.db,
    );
    assert.deepEqual(
      rows.rows.map((r) => r.name),
      migrationNames(),
    );
    assert.deepEqual((await migrate(s.storage.db as never, s.storage.kind)).applied, []);
  });

  it('rolls a failed transaction back completely', async () => {
    const email = `rollback-${newId()}@example.com`;
    await assert.rejects(
      s.storage.db.transaction().execute(async (trx) => {
        await trx.insertInto('users').values(user(email)).execute();
        throw new Error('boom');
      }),
      /boom/,
    );
    const found = await s.storage.db
      .selectFrom('users')
      .select('id')
      .where('email', '=', email)
      .executeTakeFirst();
    assert.equal(found, undefined);
  });

  it('keeps concurrent transactions apart: rollbacks lose only their own writes', async () => {
    const emails = Array.from({ length: 20 }, (_, i) => `conc-${i}-${newId()}@example.com`);
    const results = await Promise.allSettled(
      emails.map((email, i) =>
        s.storage.db.transaction().execute(async (trx) => {
          await trx.insertInto('users').values(user(email)).execute();
          await sql`select 1`.execute(trx);
          if (i % 2) throw new Error('odd ones roll back');
        }),
      ),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 10);
    const rows = await s.storage.db
      .selectFrom('users')
      .select('email')
      .where('email', 'in', emails)
      .execute();
    assert.deepEqual(rows.map((r) => r.email).sort(), emails.filter((_, i) => i % 2 === 0).sort());
  });

  it('enforces the unique email index with code 23505 on both engines', async () => {
    const email = `dup-${newId()}@example.com`;
    await s.storage.db.insertInto('users').values(user(email)).execute();
    await assert.rejects(
      s.storage.db.insertInto('users').values(user(email)).execute(),
      (err: { code?: string }) => err.code === '23505',
    );
  });

  it('round-trips timestamps and jsonb the same way on both engines', async () => {
    const id = newId();
    const at = new Date('2026-03-04T05:06:07.089Z');
    await s.storage.db
      .insertInto('audit_events')
      .values({
        id,
        org_id: null,
        actor: 'system',
        action: 'test',
        target: null,
        ip: null,
        user_agent: null,
        created_at: at,
        data: JSON.stringify({ a: [1, 'two'] }),
      })
      .execute();
    const row = await s.storage.db
      .selectFrom('audit_events')
      .select(['created_at', 'data'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    assert.ok(row.created_at instanceof Date);
    assert.equal(row.created_at.toISOString(), at.toISOString());
    assert.deepEqual(row.data, { a: [1, 'two'] });
  });

  it('deletes an org’s memberships with it, and keeps its audit rows', async () => {
    const u = user(`cascade-${newId()}@example.com`);
    const orgId = newId();
    await s.storage.db.insertInto('users').values(u).execute();
    await s.storage.db
      .insertInto('orgs')
      .values({ id: orgId, slug: `c-${orgId.slice(0, 8)}`, name: 'C', created_at: now, updated_at: now })
      .execute();
    await s.storage.db
      .insertInto('memberships')
      .values({ org_id: orgId, user_id: u.id, role: 'owner', created_at: now })
      .execute();
    await s.storage.db
      .insertInto('audit_events')
      .values({
        id: newId(),
        org_id: orgId,
        actor: 'system',
        action: 'x',
        target: null,
        ip: null,
        user_agent: null,
        created_at: now,
        data: '{}',
      })
      .execute();
    await s.storage.db.deleteFrom('orgs').where('id', '=', orgId).execute();
    assert.equal(
      (await s.storage.db.selectFrom('memberships').select('user_id').where('org_id', '=', orgId).execute())
        .length,
      0,
    );
    assert.equal(
      (await s.storage.db.selectFrom('audit_events').select('id').where('org_id', '=', orgId).execute())
        .length,
      1,
    );
  });

  it('rejects a role outside the four roles at the database level', async () => {
    const u = user(`role-${newId()}@example.com`);
    const orgId = newId();
    await s.storage.db.insertInto('users').values(u).execute();
    await s.storage.db
      .insertInto('orgs')
      .values({ id: orgId, slug: `r-${orgId.slice(0, 8)}`, name: 'R', created_at: now, updated_at: now })
      .execute();
    await assert.rejects(
      s.storage.db
        .insertInto('memberships')
        .values({ org_id: orgId, user_id: u.id, role: 'god' as never, created_at: now })
        .execute(),
    );
  });
});
