import { PGlite } from '@electric-sql/pglite';
import { Kysely } from 'kysely';
import { PGliteDialect } from '../dist/db/pglite-dialect.js';
import { withPreparedStatements } from '../dist/db/pglite-prepared.js';
import { migrate } from '../dist/db/migrate.js';
import { PGLITE_SETTINGS } from '../dist/db/pglite-thread.js';
const pg = await PGlite.create({ postgresqlconf: PGLITE_SETTINGS });
const db = new Kysely({ dialect: new PGliteDialect(withPreparedStatements(pg)) });
await migrate(db, 'pglite');
await pg.exec(`insert into orgs (id, slug, name, created_at, updated_at) values ('00000000-0000-0000-0000-000000000001','o1','O',now(),now());
insert into oauth_clients (id, kind, org_id, name, redirect_uris, auth_method, secret_hash, grant_types, scopes, metadata, created_by, created_at, updated_at) values ('app1','app','00000000-0000-0000-0000-000000000001','A','[]','client_secret_basic','x','["client_credentials"]','["mcp:read"]','{}','user:x',now(),now())`);
const SQL = `with t as (insert into oauth_tokens (id, kind, token_hash, prefix, expires_at, family_id, client_id, grant_id, user_id, org_id, resource, scopes, created_at) values (gen_random_uuid(), 'at', md5(random()::text)||md5(random()::text), 'lk_at_abcd', now()+interval '1 hour', gen_random_uuid(), 'app1', null, null, '00000000-0000-0000-0000-000000000001', 'https://r.example/mcp', '["mcp:read"]', now()))
insert into audit_events (id, org_id, actor, action, target, ip, user_agent, created_at, data, subject_user_id) select gen_random_uuid(), '00000000-0000-0000-0000-000000000001', 'client:app1', 'oauth.token_issued', 'client:app1', '127.0.0.1', 'autocannon', now(), '{"client_id":"app1","grant_type":"client_credentials","resource":"https://r.example/mcp","scopes":["mcp:read"],"access_token":"lk_at_abcd"}'::jsonb, null from (values (1)) one(n)`;
await pg.query(SQL);
async function run(label, n = 2000, group = 8) {
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i += group) {
    await pg.transaction(async (tx) => { for (let j = 0; j < group; j++) await tx.query(SQL); });
  }
  const c = process.cpuUsage(t0);
  console.log(label, ((c.user + c.system) / n).toFixed(1), 'µs/stmt');
}
const variants = {
  base: [],
  notrigger: ['alter table audit_events disable trigger audit_events_webhooks'],
  nofk: ['alter table oauth_tokens drop constraint oauth_tokens_client_id_fkey', 'alter table oauth_tokens drop constraint oauth_tokens_org_id_fkey'],
  noauditidx: ['drop index audit_events_org_actor_action_time_idx','drop index audit_events_org_actor_time_idx','drop index audit_events_org_target_time_idx','drop index audit_events_org_action_time_idx'],
  notokidx: ['drop index oauth_tokens_family_idx','drop index oauth_tokens_grant_idx','drop index oauth_tokens_client_idx'],
};
await run('warm', 1000);
for (const [k, ddl] of Object.entries(variants)) { for (const d of ddl) await pg.exec(d); await run(k); await run(k); }
process.exit(0);
