// test-backend: external — two PostgreSQL connections change one person's memberships at once
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import type { MembershipListEntry } from '../../src/db/schema/orgs.js';
import { type TestServer, testServer } from '../helpers/harness.js';

/**
 * Transactions that change one person's memberships at the same time, on connections of their own
 * (the server's requests run such statements; here each step is placed by hand):
 * - one removes the person from an org while the other adds them to another. Each computes the
 *   person's list when it commits; had the second computed it from what it saw before the first
 *   committed, the list would still hold the org the person was removed from;
 * - an account deletion (the personal org, then the person) against the deletion of another org
 *   the person belongs to: neither may deadlock the other;
 * - two orgs changing the roles of the same people in opposite orders, committing together (two
 *   directory syncs): both commit.
 * And a change made from a session whose search path names another schema (several Latchkey
 * schemas may share a database) keeps the list of the schema it changed; one transaction that
 * changes two schemas keeps both.
 */
let t: TestServer;
let watcher: pg.Client;
before(async () => {
  t = await testServer();
  watcher = await connect();
});
after(async () => {
  await watcher.end();
  await t.close();
});

async function connect(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: t.storage.databaseUrl! });
  await c.connect();
  return c;
}

async function pidOf(c: pg.Client): Promise<number> {
  return Number((await c.query('select pg_backend_pid() as pid')).rows[0].pid);
}

/** Resolves once the connection with backend `pid` waits on a lock (another transaction's). */
async function waitsOnLock(pid: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { rows } = await watcher.query('select wait_event_type from pg_stat_activity where pid = $1', [
      pid,
    ]);
    if (rows[0]?.wait_event_type === 'Lock') return;
    assert.ok(Date.now() < deadline, `backend ${pid} never waited on a lock`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `p`, or a failure naming `what` if it has not settled within five seconds. */
async function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within 5 s`)), 5_000);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A person's kept list (null: no row), from this test's server or `db`. */
async function entriesOf(userId: string, db = t.deps.db): Promise<MembershipListEntry[] | null> {
  const row = await db
    .selectFrom('membership_lists')
    .select('orgs')
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (!row) return null;
  return typeof row.orgs === 'string' ? (JSON.parse(row.orgs) as MembershipListEntry[]) : row.orgs;
}

/** The org ids of a person's kept list (null: no row). */
async function listOf(userId: string): Promise<string[] | null> {
  return (await entriesOf(userId))?.map((o) => o.id) ?? null;
}

/** The database URL without this test's schema: a session in the default search path. */
const outsideSchema = () => t.storage.databaseUrl!.replace(/[?&]options=[^&]*/, '');

describe("a person's kept list under concurrent changes", () => {
  it('holds both changes of two transactions that overlap', async () => {
    const person = t.client();
    const { user, org: own } = await person.signup();
    const owner = t.client();
    const { org: joined } = await owner.signup();
    const other = t.client();
    const { org: next } = await other.signup();
    await t.deps.db
      .insertInto('memberships')
      .values({ org_id: joined.id, user_id: user.id, role: 'member', created_at: new Date() })
      .execute();

    const [removing, adding] = await Promise.all([connect(), connect()]);
    const addingPid = await pidOf(adding);
    try {
      // The removal computes the person's list (its deferred trigger, fired now) and holds it open.
      await removing.query('begin');
      await removing.query('delete from memberships where org_id = $1 and user_id = $2', [
        joined.id,
        user.id,
      ]);
      await removing.query('set constraints all immediate');
      // The addition computes the same list meanwhile: it must wait for the removal to commit.
      await adding.query('begin');
      // Its statement waits on nothing: the list is computed when its constraints fire.
      await within(
        adding.query(
          `insert into memberships (org_id, user_id, role, created_at) values ($1, $2, 'member', now())`,
          [next.id, user.id],
        ),
        'the addition',
      );
      const computing = adding.query('set constraints all immediate');
      await waitsOnLock(addingPid);
      await removing.query('commit');
      await within(computing, 'the addition, once the removal committed,');
      await adding.query('commit');
    } finally {
      await Promise.all([removing.end(), adding.end()]);
    }

    assert.deepEqual(await listOf(user.id), [own.id, next.id]);
  });

  it('lets an account deletion and the deletion of another of its orgs both finish', async () => {
    const person = t.client();
    const { user, org: own } = await person.signup();
    const owner = t.client();
    const { user: ownerUser, org: shared } = await owner.signup();
    await t.deps.db
      .insertInto('memberships')
      .values({ org_id: shared.id, user_id: user.id, role: 'member', created_at: new Date() })
      .execute();
    assert.deepEqual(await listOf(user.id), [own.id, shared.id]);

    const [deletingAccount, deletingOrg] = await Promise.all([connect(), connect()]);
    const deletingOrgPid = await pidOf(deletingOrg);
    try {
      // The account deletion removes the personal org first, then the person.
      await deletingAccount.query('begin');
      await deletingAccount.query('delete from orgs where id = $1', [own.id]);
      // Meanwhile the owner deletes the shared org, which removes the person's membership in it.
      await deletingOrg.query('begin');
      const orgGone = deletingOrg.query('delete from orgs where id = $1', [shared.id]);
      await Promise.race([orgGone, waitsOnLock(deletingOrgPid)]);
      // Deleting the person waits on that membership, held by the org's deletion.
      const personGone = deletingAccount.query('delete from users where id = $1', [user.id]);
      await orgGone;
      await deletingOrg.query('commit');
      await personGone;
      await deletingAccount.query('commit');
    } finally {
      await Promise.all([deletingAccount.end(), deletingOrg.end()]);
    }
    assert.equal(await listOf(user.id), null);
    assert.deepEqual(await listOf(ownerUser.id), []);
  });

  it("keeps its own schema's list when the change comes from a session in another schema", async () => {
    const person = t.client();
    const { user, org: own } = await person.signup();
    const schema = String((await watcher.query('select current_schema() as s')).rows[0].s);
    const elsewhere = new pg.Client({
      connectionString: outsideSchema(),
    });
    await elsewhere.connect();
    try {
      assert.notEqual(String((await elsewhere.query('select current_schema() as s')).rows[0].s), schema);
      await elsewhere.query(`delete from "${schema}".memberships where org_id = $1 and user_id = $2`, [
        own.id,
        user.id,
      ]);
    } finally {
      await elsewhere.end();
    }
    assert.deepEqual(await listOf(user.id), []);
  });

  it('lets two orgs that change the same people in opposite orders commit together', async () => {
    const owners = [t.client(), t.client()];
    const orgs = [(await owners[0]!.signup()).org.id, (await owners[1]!.signup()).org.id];
    const people = (
      await sql<{ id: string }>`
        insert into users (id, email, name, created_at, updated_at)
        select gen_random_uuid(), 'crowd-' || n || '-' || ${Date.now()} || '@example.com', 'Crowd', now(), now()
        from generate_series(1, 200) n
        returning id`.execute(t.deps.db)
    ).rows
      .map((r) => r.id)
      .sort();
    await sql`insert into memberships (org_id, user_id, role, created_at)
      select o, p, 'member', now() from unnest(${orgs}::uuid[]) o, unnest(${people}::uuid[]) p`.execute(
      t.deps.db,
    );

    const syncs = await Promise.all([connect(), connect()]);
    try {
      await Promise.all(
        syncs.map(async (c, k) => {
          await c.query('begin');
          for (const id of k === 0 ? people : [...people].reverse())
            await c.query(`update memberships set role = 'admin' where org_id = $1 and user_id = $2`, [
              orgs[k],
              id,
            ]);
        }),
      );
      await within(Promise.all(syncs.map((c) => c.query('commit'))), 'the two commits');
    } finally {
      await Promise.all(syncs.map((c) => c.end()));
    }
    for (const id of [people[0]!, people[199]!]) {
      assert.deepEqual(
        (await entriesOf(id))?.map((o) => o.role),
        ['admin', 'admin'],
      );
    }
  });

  it("keeps both schemas' lists when one transaction changes two", async () => {
    const second = await testServer();
    try {
      const here = await t.client().signup();
      const there = await second.client().signup();
      const schemaOf = async (url: string) => {
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        try {
          return String((await c.query('select current_schema() as s')).rows[0].s);
        } finally {
          await c.end();
        }
      };
      const schemas = [await schemaOf(t.storage.databaseUrl!), await schemaOf(second.storage.databaseUrl!)];
      assert.notEqual(schemas[0], schemas[1]);
      const both = new pg.Client({
        connectionString: outsideSchema(),
      });
      await both.connect();
      try {
        await both.query('begin');
        await both.query(`delete from "${schemas[0]}".memberships where user_id = $1`, [here.user.id]);
        await both.query(`delete from "${schemas[1]}".memberships where user_id = $1`, [there.user.id]);
        await both.query('commit');
      } finally {
        await both.end();
      }
      assert.deepEqual(await listOf(here.user.id), []);
      assert.deepEqual(await entriesOf(there.user.id, second.deps.db), []);
    } finally {
      await second.close();
    }
  });
});
