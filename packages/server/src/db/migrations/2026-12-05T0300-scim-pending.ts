import { type Kysely, sql } from 'kysely';

// Frozen in time: imports nothing from the app.

export async function up(db: Kysely<unknown>): Promise<void> {
  // A SCIM user is the org's own record: its userName is what the identity provider sent, kept
  // apart from the account's email. Until the person accepts an invitation, the record is
  // pending: no account (`user_id` null) and the invitation it waits on.
  await sql`alter table scim_users add column user_name text`.execute(db);
  await sql`update scim_users set user_name = users.email from users where users.id = scim_users.user_id`.execute(
    db,
  );
  await sql`alter table scim_users alter column user_name set not null`.execute(db);
  await sql`alter table scim_users alter column user_id drop not null`.execute(db);
  await sql`alter table scim_users add column invitation_id uuid references invitations (id) on delete set null`.execute(
    db,
  );
  await sql`alter table scim_users add constraint scim_users_link_check check (user_id is null or invitation_id is null)`.execute(
    db,
  );
  await sql`create unique index scim_users_org_user_name_key on scim_users (org_id, user_name)`.execute(db);
  await sql`create index scim_users_invitation_idx on scim_users (invitation_id) where invitation_id is not null`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`delete from scim_users where user_id is null`.execute(db);
  await sql`drop index scim_users_invitation_idx`.execute(db);
  await sql`drop index scim_users_org_user_name_key`.execute(db);
  await sql`alter table scim_users drop constraint scim_users_link_check`.execute(db);
  await sql`alter table scim_users drop column invitation_id`.execute(db);
  await sql`alter table scim_users alter column user_id set not null`.execute(db);
  await sql`alter table scim_users drop column user_name`.execute(db);
}
