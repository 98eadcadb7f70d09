import { type Kysely, sql } from 'kysely';

// Frozen in time: imports nothing from the app.

/**
 * A person's orgs, kept as one row: `membership_lists.orgs` is the JSON array `/api/v1/me` lists
 * (id, slug, name, role; by joining date, then org id; at most 500), maintained by triggers on
 * `memberships` and `orgs` in the transaction that changes them. The lookup of an uncached personal
 * token read the list with a correlated subquery (a join of memberships to orgs, sorted and
 * aggregated): on the embedded database that subquery cost as much as the rest of the statement.
 * Reading the list is one more index probe.
 *
 * When: at commit. The triggers are deferred constraint triggers, so a transaction takes a
 * person's list row only once its own statements are done. Taken during the statement, it made
 * new deadlocks between transactions that had none before: an account deletion (its personal org,
 * then the person) against the deletion of another org the person belonged to, each holding what
 * the other's next step waits for. A list is current once the change commits; nothing reads it
 * inside the changing transaction.
 *
 * Concurrency: the list row is locked (inserted if missing, then `for update`) before the list is
 * computed, and in READ COMMITTED each statement of the trigger sees what committed before it, so
 * two transactions changing one person's memberships at once cannot leave a list that misses
 * either change: the second waits for the first, then reads both. Computing the list in the
 * statement that writes it would not do: its snapshot predates the wait, and a list could keep an
 * org its person had just been removed from. (At REPEATABLE READ or above the second transaction
 * fails with a serialization error instead.) An org renamed refreshes its members in person order.
 *
 * The functions run with the search path of the schema they were created in (several Latchkey
 * schemas may share a database), and `truncate memberships` empties every list. Changes made with
 * triggers off (`session_replication_role = replica`, `disable trigger`) bypass the lists: a
 * person with no row reads as having no org, but a stale row would keep what it lists.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table membership_lists (
    user_id uuid primary key references users (id) on delete cascade,
    orgs json not null
  )`.execute(db);

  await sql`create function membership_list_refresh(uid uuid) returns void language plpgsql
    set search_path from current as $$
    begin
      insert into membership_lists (user_id, orgs)
      select u.id, '[]'::json from users u where u.id = uid
      on conflict (user_id) do nothing;
      perform 1 from membership_lists where user_id = uid for update;
      update membership_lists l set orgs = coalesce((
        select json_agg(json_build_object('id', m.id, 'slug', m.slug, 'name', m.name, 'role', m.role)
          order by m.created_at, m.id)
        from (
          select o.id, o.slug, o.name, ms.role, ms.created_at
          from memberships ms join orgs o on o.id = ms.org_id
          where ms.user_id = uid
          order by ms.created_at, o.id
          limit 500
        ) m
      ), '[]'::json)
      where l.user_id = uid;
    end
  $$`.execute(db);

  await sql`create function memberships_list_sync() returns trigger language plpgsql
    set search_path from current as $$
    begin
      if tg_op <> 'INSERT' then
        perform membership_list_refresh(old.user_id);
      end if;
      if tg_op = 'INSERT' or new.user_id is distinct from old.user_id then
        perform membership_list_refresh(new.user_id);
      end if;
      return null;
    end
  $$`.execute(db);
  await sql`create constraint trigger memberships_list_sync after insert or update or delete on memberships
    deferrable initially deferred
    for each row execute function memberships_list_sync()`.execute(db);

  await sql`create function memberships_list_clear() returns trigger language plpgsql
    set search_path from current as $$
    begin
      delete from membership_lists;
      return null;
    end
  $$`.execute(db);
  await sql`create trigger memberships_list_clear after truncate on memberships
    for each statement execute function memberships_list_clear()`.execute(db);

  await sql`create function orgs_list_sync() returns trigger language plpgsql
    set search_path from current as $$
    begin
      perform membership_list_refresh(m.user_id) from memberships m where m.org_id = new.id order by m.user_id;
      return null;
    end
  $$`.execute(db);
  await sql`create constraint trigger orgs_list_sync after update of slug, name on orgs
    deferrable initially deferred
    for each row when (old.slug is distinct from new.slug or old.name is distinct from new.name)
    execute function orgs_list_sync()`.execute(db);

  await sql`select membership_list_refresh(u.user_id) from (select distinct user_id from memberships) u order by u.user_id`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger orgs_list_sync on orgs`.execute(db);
  await sql`drop trigger memberships_list_clear on memberships`.execute(db);
  await sql`drop trigger memberships_list_sync on memberships`.execute(db);
  await sql`drop function orgs_list_sync()`.execute(db);
  await sql`drop function memberships_list_clear()`.execute(db);
  await sql`drop function memberships_list_sync()`.execute(db);
  await sql`drop function membership_list_refresh(uuid)`.execute(db);
  await sql`drop table membership_lists`.execute(db);
}
