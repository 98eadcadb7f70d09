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
 * When: at commit, each person once, in person order. A change only notes whose list is due (a
 * temporary table of the session, emptied at commit); a deferred constraint trigger then refreshes
 * every due list, sorted, when the transaction commits, and the first firing does them all. Lists
 * refreshed as each row changed made new deadlocks between transactions that had none before: an
 * account deletion (its personal org, then the person) against the deletion of another org the
 * person belonged to, or two orgs' directory syncs changing the same people in opposite orders.
 * Now a transaction takes list rows only once its statements are done, and always in the same
 * order. Nothing reads a list inside the transaction that changes it.
 *
 * Concurrency: the list row is locked (inserted if missing, then `for update`) before the list is
 * computed, and in READ COMMITTED each statement of the trigger sees what committed before it, so
 * two transactions changing one person's memberships at once cannot leave a list that misses
 * either change: the second waits for the first, then reads both. Computing the list in the
 * statement that writes it would not do: its snapshot predates the wait, and a list could keep an
 * org its person had just been removed from. (At REPEATABLE READ or above the second transaction
 * fails with a serialization error instead.) A person deleted loses the row in the same pass (no
 * foreign key: its cascade would take the row during the statement, out of order).
 *
 * The functions run in the schema they were created in (several Latchkey schemas may share a
 * database; one transaction may change several), and `truncate memberships` empties every list.
 * Noting needs the database's TEMPORARY privilege (PostgreSQL grants it to every role by default).
 * Changes made with triggers off (`session_replication_role = replica`, `disable trigger`) bypass
 * the lists: a person with no row reads as having no org, but a stale row would keep what it lists.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table membership_lists (
    user_id uuid primary key,
    orgs json not null
  )`.execute(db);

  await sql`create function membership_list_refresh(uid uuid) returns void language plpgsql as $$
    begin
      if not exists (select 1 from users where id = uid) then
        delete from membership_lists where user_id = uid;
        return;
      end if;
      insert into membership_lists (user_id, orgs) values (uid, '[]'::json)
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

  // Notes people whose lists are due, in a table of the session that commit empties. One table
  // serves every Latchkey schema a transaction touches: each row names its schema (the first on
  // the functions' search path), and each schema's pass takes only its own.
  await sql`create function membership_lists_note(uids uuid[]) returns void language plpgsql as $$
    begin
      if to_regclass('pg_temp.membership_lists_due') is null then
        create temporary table membership_lists_due (
          schema_name text not null,
          user_id uuid not null,
          primary key (schema_name, user_id)
        ) on commit delete rows;
      end if;
      insert into pg_temp.membership_lists_due
      select distinct current_schema(), u from unnest(uids) u where u is not null
      on conflict do nothing;
    end
  $$`.execute(db);

  // Refreshes every due list of this schema, in person order; later firings in the same commit
  // find none due.
  await sql`create function membership_lists_refresh_due() returns trigger language plpgsql as $$
    declare
      uid uuid;
    begin
      if to_regclass('pg_temp.membership_lists_due') is null then
        return null;
      end if;
      for uid in
        select user_id from pg_temp.membership_lists_due where schema_name = current_schema() order by user_id
      loop
        perform membership_list_refresh(uid);
      end loop;
      delete from pg_temp.membership_lists_due where schema_name = current_schema();
      return null;
    end
  $$`.execute(db);

  await sql`create function memberships_list_note() returns trigger language plpgsql as $$
    begin
      if tg_op = 'INSERT' then
        perform membership_lists_note(array[new.user_id]);
      elsif tg_op = 'DELETE' then
        perform membership_lists_note(array[old.user_id]);
      else
        perform membership_lists_note(array[old.user_id, new.user_id]);
      end if;
      return null;
    end
  $$`.execute(db);
  await sql`create trigger memberships_list_note after insert or update or delete on memberships
    for each row execute function memberships_list_note()`.execute(db);
  await sql`create constraint trigger memberships_list_refresh after insert or update or delete on memberships
    deferrable initially deferred
    for each row execute function membership_lists_refresh_due()`.execute(db);

  await sql`create function orgs_list_note() returns trigger language plpgsql as $$
    begin
      perform membership_lists_note(array(select user_id from memberships where org_id = new.id));
      return null;
    end
  $$`.execute(db);
  await sql`create trigger orgs_list_note after update of slug, name on orgs
    for each row when (old.slug is distinct from new.slug or old.name is distinct from new.name)
    execute function orgs_list_note()`.execute(db);
  await sql`create constraint trigger orgs_list_refresh after update of slug, name on orgs
    deferrable initially deferred
    for each row when (old.slug is distinct from new.slug or old.name is distinct from new.name)
    execute function membership_lists_refresh_due()`.execute(db);

  await sql`create function users_list_note() returns trigger language plpgsql as $$
    begin
      perform membership_lists_note(array[old.id]);
      return null;
    end
  $$`.execute(db);
  await sql`create trigger users_list_note after delete on users
    for each row execute function users_list_note()`.execute(db);
  await sql`create constraint trigger users_list_refresh after delete on users
    deferrable initially deferred
    for each row execute function membership_lists_refresh_due()`.execute(db);

  await sql`create function memberships_list_clear() returns trigger language plpgsql as $$
    begin
      delete from membership_lists;
      return null;
    end
  $$`.execute(db);
  await sql`create trigger memberships_list_clear after truncate on memberships
    for each statement execute function memberships_list_clear()`.execute(db);

  // Each function resolves names in this schema only (and pg_temp, last, for its own table).
  await sql`do $$
    declare
      f text;
    begin
      foreach f in array array['membership_list_refresh(uuid)', 'membership_lists_note(uuid[])',
        'membership_lists_refresh_due()', 'memberships_list_note()', 'orgs_list_note()',
        'users_list_note()', 'memberships_list_clear()'] loop
        execute format('alter function %s set search_path = %I, pg_temp', f, current_schema());
      end loop;
    end
  $$`.execute(db);

  await sql`select membership_list_refresh(u.user_id) from (select distinct user_id from memberships) u order by u.user_id`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger memberships_list_clear on memberships`.execute(db);
  await sql`drop trigger users_list_refresh on users`.execute(db);
  await sql`drop trigger users_list_note on users`.execute(db);
  await sql`drop trigger orgs_list_refresh on orgs`.execute(db);
  await sql`drop trigger orgs_list_note on orgs`.execute(db);
  await sql`drop trigger memberships_list_refresh on memberships`.execute(db);
  await sql`drop trigger memberships_list_note on memberships`.execute(db);
  await sql`drop function memberships_list_clear()`.execute(db);
  await sql`drop function users_list_note()`.execute(db);
  await sql`drop function orgs_list_note()`.execute(db);
  await sql`drop function memberships_list_note()`.execute(db);
  await sql`drop function membership_lists_refresh_due()`.execute(db);
  await sql`drop function membership_lists_note(uuid[])`.execute(db);
  await sql`drop function membership_list_refresh(uuid)`.execute(db);
  await sql`drop table membership_lists`.execute(db);
}
