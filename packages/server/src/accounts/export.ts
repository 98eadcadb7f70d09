import { sql } from 'kysely';
import { Type } from 'typebox';
import type { Db } from '../db/connection.js';
import { OrgShape, Timestamp } from '../http/shapes.js';
import type { Clock } from '../lib/clock.js';
import { listUserOrgs } from '../orgs/queries.js';
import { listActivity } from './activity.js';

/** The most activity events an export carries (newest first). */
export const EXPORT_ACTIVITY_MAX = 10_000;

const OrNull = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

/** Everything Latchkey holds about a person, as `GET /api/v1/me/export` answers it. Never a hash. */
export const ExportShape = Type.Object({
  exported_at: Timestamp,
  profile: Type.Object({
    id: Type.String(),
    email: Type.String(),
    name: Type.String(),
    created_at: Timestamp,
    email_verified_at: OrNull(Timestamp),
    has_password: Type.Boolean(),
    instance_admin: Type.Boolean(),
  }),
  orgs: Type.Array(Type.Object({ ...OrgShape.properties, joined_at: Timestamp })),
  sessions: Type.Array(
    Type.Object({
      id: Type.String(),
      ip: OrNull(Type.String()),
      user_agent: OrNull(Type.String()),
      created_at: Timestamp,
      last_seen_at: Timestamp,
      expires_at: Timestamp,
      revoked_at: OrNull(Timestamp),
    }),
  ),
  tokens: Type.Array(
    Type.Object({
      id: Type.String(),
      kind: Type.String(),
      prefix: Type.String(),
      name: OrNull(Type.String()),
      scopes: OrNull(Type.Array(Type.String())),
      org_id: OrNull(Type.String()),
      created_at: Timestamp,
      expires_at: OrNull(Timestamp),
      last_used_at: OrNull(Timestamp),
      revoked_at: OrNull(Timestamp),
    }),
  ),
  oauth_grants: Type.Array(
    Type.Object({
      id: Type.String(),
      client_id: Type.String(),
      client_name: OrNull(Type.String()),
      org_id: Type.String(),
      resource: Type.String(),
      scopes: Type.Array(Type.String()),
      created_at: Timestamp,
      revoked_at: OrNull(Timestamp),
    }),
  ),
  identities: Type.Array(
    Type.Object({
      provider: Type.String(),
      subject: Type.String(),
      email: OrNull(Type.String()),
      created_at: Timestamp,
    }),
  ),
  second_factors: Type.Object({
    totp: Type.Boolean(),
    passkeys: Type.Array(
      Type.Object({ name: Type.String(), created_at: Timestamp, last_used_at: OrNull(Timestamp) }),
    ),
    unused_recovery_codes: Type.Integer(),
  }),
  activity: Type.Array(
    Type.Object({
      id: Type.String(),
      action: Type.String(),
      created_at: Timestamp,
      org: OrNull(Type.Object({ id: Type.String(), name: OrNull(Type.String()) })),
      actor: Type.Object({ kind: Type.String(), name: OrNull(Type.String()) }),
      ip: OrNull(Type.String()),
      device: OrNull(Type.String()),
      details: Type.Record(Type.String(), Type.Unknown()),
    }),
  ),
});

const iso = (d: Date | null) => d?.toISOString() ?? null;

/** The second factors, read only where this server keeps them (the tables exist). */
async function secondFactors(db: Db, userId: string) {
  const { rows } = await sql<{ totp: string | null; passkeys: string | null; recovery: string | null }>`
    select to_regclass('totp_factors')::text as totp, to_regclass('passkeys')::text as passkeys,
           to_regclass('recovery_codes')::text as recovery`.execute(db);
  const have = rows[0]!;
  const totp = have.totp
    ? (
        await sql<{
          n: string;
        }>`select count(*) as n from totp_factors where user_id = ${userId}::uuid and confirmed_at is not null`.execute(
          db,
        )
      ).rows[0]!.n !== '0'
    : false;
  const passkeys = have.passkeys
    ? (
        await sql<{ name: string; created_at: Date; last_used_at: Date | null }>`
          select name, created_at, last_used_at from passkeys where user_id = ${userId}::uuid order by created_at`.execute(
          db,
        )
      ).rows.map((p) => ({
        name: p.name,
        created_at: new Date(p.created_at).toISOString(),
        last_used_at: p.last_used_at ? new Date(p.last_used_at).toISOString() : null,
      }))
    : [];
  const unused = have.recovery
    ? Number(
        (
          await sql<{
            n: string;
          }>`select count(*) as n from recovery_codes where user_id = ${userId}::uuid and used_at is null`.execute(
            db,
          )
        ).rows[0]!.n,
      )
    : 0;
  return { totp, passkeys, unused_recovery_codes: unused };
}

/** Everything held about `userId`: profile, orgs, sessions, token metadata, grants, identities, factors, activity. */
export async function exportAccount(db: Db, clock: Clock, userId: string) {
  const user = await db
    .selectFrom('users')
    .select(['id', 'email', 'name', 'created_at', 'email_verified_at', 'password_hash', 'instance_admin'])
    .where('id', '=', userId)
    .executeTakeFirstOrThrow();
  const orgs = await listUserOrgs(db, userId);
  const sessions = await db
    .selectFrom('sessions')
    .select(['id', 'ip', 'user_agent', 'created_at', 'last_seen_at', 'expires_at', 'revoked_at'])
    .where('user_id', '=', userId)
    .orderBy('created_at', 'desc')
    .execute();
  const tokens = await db
    .selectFrom('api_tokens')
    .select([
      'id',
      'kind',
      'prefix',
      'name',
      'scopes',
      'org_id',
      'created_at',
      'expires_at',
      'last_used_at',
      'revoked_at',
    ])
    .where((eb) => eb.or([eb('user_id', '=', userId), eb('created_by_user', '=', userId)]))
    .orderBy('created_at', 'desc')
    .execute();
  const grants = await db
    .selectFrom('oauth_grants as g')
    .leftJoin('oauth_clients as c', 'c.id', 'g.client_id')
    .select([
      'g.id',
      'g.client_id',
      'c.name as client_name',
      'g.org_id',
      'g.resource',
      'g.scopes',
      'g.created_at',
      'g.revoked_at',
    ])
    .where('g.user_id', '=', userId)
    .orderBy('g.created_at', 'desc')
    .execute();
  const identities = await db
    .selectFrom('identities')
    .select(['provider', 'subject', 'email', 'created_at'])
    .where('user_id', '=', userId)
    .execute();
  const activity = await listActivity(db, userId, {
    limit: EXPORT_ACTIVITY_MAX - 1,
    after: null,
    since: null,
  });
  const list = (v: unknown): string[] | null =>
    v === null ? null : ((typeof v === 'string' ? JSON.parse(v) : v) as string[]);
  return {
    exported_at: clock.now().toISOString(),
    profile: {
      id: user.id,
      email: user.email,
      name: user.name,
      created_at: user.created_at.toISOString(),
      email_verified_at: iso(user.email_verified_at),
      has_password: user.password_hash !== null,
      instance_admin: user.instance_admin,
    },
    orgs: orgs.map((o) => ({
      id: o.id,
      slug: o.slug,
      name: o.name,
      role: o.role,
      joined_at: o.created_at.toISOString(),
    })),
    sessions: sessions.map((s) => ({
      id: s.id,
      ip: s.ip,
      user_agent: s.user_agent,
      created_at: s.created_at.toISOString(),
      last_seen_at: s.last_seen_at.toISOString(),
      expires_at: s.expires_at.toISOString(),
      revoked_at: iso(s.revoked_at),
    })),
    tokens: tokens.map((t) => ({
      id: t.id,
      kind: t.kind,
      prefix: t.prefix,
      name: t.name,
      scopes: list(t.scopes),
      org_id: t.org_id,
      created_at: t.created_at.toISOString(),
      expires_at: iso(t.expires_at),
      last_used_at: iso(t.last_used_at),
      revoked_at: iso(t.revoked_at),
    })),
    oauth_grants: grants.map((g) => ({
      id: g.id,
      client_id: g.client_id,
      client_name: g.client_name,
      org_id: g.org_id,
      resource: g.resource,
      scopes: list(g.scopes) ?? [],
      created_at: g.created_at.toISOString(),
      revoked_at: iso(g.revoked_at),
    })),
    identities: identities.map((i) => ({
      provider: i.provider,
      subject: i.subject,
      email: i.email,
      created_at: i.created_at.toISOString(),
    })),
    second_factors: await secondFactors(db, userId),
    activity: activity.map((a) => a.event),
  };
}
