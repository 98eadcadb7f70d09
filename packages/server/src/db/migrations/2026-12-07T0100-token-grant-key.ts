import { type Kysely, sql } from 'kysely';

// Frozen in time: imports nothing from the app.

/**
 * An OAuth token row checked its client, grant, person and org one foreign key at a time: four
 * look-ups in the parents for every token issued (eight for a code exchange or a rotation), a
 * third of what inserting the two token rows cost the embedded database. A token issued for a
 * person's consent now names the consent, its client, person and org as one key of the consent
 * (one check, which also proves they belong together), and a client-credentials token (no consent,
 * no person) its client alone; the org of such a token is its org app's, which goes with the org.
 *
 * Deleting a person, an org, an app or a consent still deletes its tokens: through the consent
 * (a person's and an org's consents go with them), or through the client.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table oauth_grants
    add constraint oauth_grants_subject_key unique (id, client_id, user_id, org_id)`.execute(db);
  await sql`alter table oauth_tokens
    drop constraint oauth_tokens_grant_id_fkey,
    drop constraint oauth_tokens_user_id_fkey,
    drop constraint oauth_tokens_org_id_fkey,
    add constraint oauth_tokens_subject_check check ((grant_id is null) = (user_id is null)),
    add constraint oauth_tokens_grant_fkey foreign key (grant_id, client_id, user_id, org_id)
      references oauth_grants (id, client_id, user_id, org_id) on delete cascade`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table oauth_tokens
    drop constraint oauth_tokens_grant_fkey,
    drop constraint oauth_tokens_subject_check,
    add constraint oauth_tokens_grant_id_fkey foreign key (grant_id) references oauth_grants (id) on delete cascade,
    add constraint oauth_tokens_user_id_fkey foreign key (user_id) references users (id) on delete cascade,
    add constraint oauth_tokens_org_id_fkey foreign key (org_id) references orgs (id) on delete cascade`.execute(
    db,
  );
  await sql`alter table oauth_grants drop constraint oauth_grants_subject_key`.execute(db);
}
