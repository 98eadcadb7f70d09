import { Type } from 'typebox';
import { audit } from '../audit/log.js';
import { cleanName } from '../accounts/users.js';
import type { Deps } from '../deps.js';
import { ApiError } from '../http/errors.js';
import { decodeCursor, PageOf, PageQuery, page } from '../http/pagination.js';
import { membershipsOf } from '../http/auth.js';
import { actorOf, orgOf, principalOf, userOf } from '../http/request.js';
import { Name, OrgShape, RoleShape, Timestamp, UserShape, Uuid } from '../http/shapes.js';
import type { App } from '../http/types.js';
import { invitationRoutes } from './invitation-routes.js';
import { getMembership, insertOrg, listUserOrgs, lockOwners, setRole, slugTaken } from './queries.js';
import { mayGrant } from './roles.js';
import { isValidSlug, SLUG_MAX } from './slug.js';
import { isUniqueViolation } from '../accounts/users.js';
import { freeSlug } from './queries.js';

const Slug = Type.String({ minLength: 1, maxLength: SLUG_MAX });
const OrgDetail = Type.Object({ id: Type.String(), slug: Type.String(), name: Type.String(), role: RoleShape, created_at: Timestamp });
const Member = Type.Object({ user_id: Type.String(), email: Type.String(), name: Type.String(), role: RoleShape, joined_at: Timestamp });
const UserIdParams = Type.Object({ user_id: Uuid }, { additionalProperties: false });

function slugOrThrow(slug: string): string {
  if (!isValidSlug(slug)) {
    throw new ApiError('invalid_request', 'A slug is 1–40 lowercase letters, digits and single hyphens, not starting or ending with a hyphen.');
  }
  return slug;
}

/** `/api/v1/me`, `/api/v1/orgs`, `/api/v1/org`, members and ownership transfer. */
export function orgRoutes(app: App, deps: Deps): void {
  const { db, clock } = deps;

  app.get(
    '/api/v1/me',
    {
      config: { auth: 'user' },
      schema: {
        tags: ['me'],
        response: {
          200: Type.Object({
            user: Type.Union([UserShape, Type.Null()]),
            org: Type.Union([OrgShape, Type.Null()]),
            orgs: Type.Array(OrgShape),
            credential: Type.Object({
              kind: Type.String(),
              prefix: Type.Optional(Type.String()),
              scopes: Type.Optional(Type.Array(Type.String())),
            }),
          }),
        },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const orgs = p.user ? await membershipsOf(deps, p.user.id) : [];
      return {
        user: p.user,
        org: req.org,
        orgs: orgs.map((o) => ({ id: o.id, slug: o.slug, name: o.name, role: o.role })),
        credential: {
          kind: p.kind,
          ...(p.prefix ? { prefix: p.prefix } : {}),
          ...(p.scopes ? { scopes: [...p.scopes] } : {}),
        },
      };
    },
  );

  app.patch(
    '/api/v1/me',
    {
      config: { auth: 'user', scope: 'account:write' },
      schema: { tags: ['me'], body: Type.Object({ name: Name }, { additionalProperties: false }), response: { 200: UserShape } },
    },
    async (req) => {
      const user = userOf(req);
      const name = cleanName(req.body.name);
      if (!name) throw new ApiError('invalid_request', 'The name must not be empty.');
      await db.transaction().execute(async (trx) => {
        await trx.updateTable('users').set({ name, updated_at: clock.now() }).where('id', '=', user.id).execute();
        await audit(trx, clock, actorOf(req), { orgId: null, action: 'user.updated', target: `user:${user.id}`, data: { fields: ['name'] } });
      });
      await deps.auth.changed({ user: user.id });
      return { ...user, name };
    },
  );

  app.post(
    '/api/v1/orgs',
    {
      config: { auth: 'user', scope: 'orgs:create' },
      schema: {
        tags: ['orgs'],
        body: Type.Object({ name: Name, slug: Type.Optional(Slug) }, { additionalProperties: false }),
        response: { 201: OrgShape },
      },
    },
    async (req, reply) => {
      const user = userOf(req);
      const name = cleanName(req.body.name);
      if (!name) throw new ApiError('invalid_request', 'The name must not be empty.');
      const wanted = req.body.slug === undefined ? null : slugOrThrow(req.body.slug);
      try {
        const org = await db.transaction().execute(async (trx) => {
          if (wanted && (await slugTaken(trx, wanted))) throw new ApiError('slug_taken', 'This slug is taken.');
          const o = await insertOrg(trx, clock, { name, slug: wanted ?? (await freeSlug(trx, name)), ownerId: user.id });
          await audit(trx, clock, actorOf(req), { orgId: o.id, action: 'org.created', target: `org:${o.id}`, data: { slug: o.slug } });
          return o;
        });
        await deps.auth.changed({ user: user.id });
        return reply.code(201).send({ id: org.id, slug: org.slug, name: org.name, role: 'owner' });
      } catch (err) {
        if (isUniqueViolation(err)) throw new ApiError('slug_taken', 'This slug is taken.');
        throw err;
      }
    },
  );

  app.get(
    '/api/v1/org',
    { config: { auth: 'org', permission: 'org:read' }, schema: { tags: ['orgs'], response: { 200: OrgDetail } } },
    async (req) => {
      const org = orgOf(req);
      const row = await db.selectFrom('orgs').select('created_at').where('id', '=', org.id).executeTakeFirstOrThrow();
      return { ...org, created_at: row.created_at.toISOString() };
    },
  );

  app.patch(
    '/api/v1/org',
    {
      config: { auth: 'org', permission: 'org:update' },
      schema: {
        tags: ['orgs'],
        body: Type.Object({ name: Type.Optional(Name), slug: Type.Optional(Slug) }, { additionalProperties: false, minProperties: 1 }),
        response: { 200: OrgDetail },
      },
    },
    async (req) => {
      const org = orgOf(req);
      const name = req.body.name === undefined ? undefined : cleanName(req.body.name);
      if (name === '') throw new ApiError('invalid_request', 'The name must not be empty.');
      const slug = req.body.slug === undefined ? undefined : slugOrThrow(req.body.slug);
      try {
        const row = await db.transaction().execute(async (trx) => {
          if (slug && slug !== org.slug && (await slugTaken(trx, slug))) throw new ApiError('slug_taken', 'This slug is taken.');
          const updated = await trx
            .updateTable('orgs')
            .set({ ...(name ? { name } : {}), ...(slug ? { slug } : {}), updated_at: clock.now() })
            .where('id', '=', org.id)
            .returning(['id', 'slug', 'name', 'created_at'])
            .executeTakeFirstOrThrow();
          await audit(trx, clock, actorOf(req), {
            orgId: org.id,
            action: 'org.updated',
            target: `org:${org.id}`,
            data: { ...(name ? { name } : {}), ...(slug ? { slug, previous_slug: org.slug } : {}) },
          });
          return updated;
        });
        await deps.auth.changed({ org: org.id });
        return { id: row.id, slug: row.slug, name: row.name, role: org.role, created_at: row.created_at.toISOString() };
      } catch (err) {
        if (isUniqueViolation(err)) throw new ApiError('slug_taken', 'This slug is taken.');
        throw err;
      }
    },
  );

  app.delete(
    '/api/v1/org',
    { config: { auth: 'org', permission: 'org:delete' }, schema: { tags: ['orgs'], response: { 204: Type.Null() } } },
    async (req, reply) => {
      const org = orgOf(req);
      await db.transaction().execute(async (trx) => {
        // The audit row outlives the org (audit_events.org_id has no foreign key on purpose).
        await audit(trx, clock, actorOf(req), { orgId: org.id, action: 'org.deleted', target: `org:${org.id}`, data: { slug: org.slug, name: org.name } });
        await trx.deleteFrom('orgs').where('id', '=', org.id).execute();
      });
      // Its members' memberships and every token bound to it end on every node.
      await deps.auth.changed({ org: org.id });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/org/members',
    {
      config: { auth: 'org', permission: 'members:read' },
      schema: { tags: ['members'], querystring: Type.Object(PageQuery, { additionalProperties: false }), response: { 200: PageOf(Member) } },
    },
    async (req) => {
      const org = orgOf(req);
      const limit = req.query.limit ?? 50;
      const after = decodeCursor(req.query.cursor);
      let q = db
        .selectFrom('memberships')
        .innerJoin('users', 'users.id', 'memberships.user_id')
        .select(['users.id', 'users.email', 'users.name', 'memberships.role', 'memberships.created_at'])
        .where('memberships.org_id', '=', org.id);
      if (after) {
        q = q.where((eb) =>
          eb.or([
            eb('memberships.created_at', '>', after.at),
            eb.and([eb('memberships.created_at', '=', after.at), eb('users.id', '>', after.id)]),
          ]),
        );
      }
      const rows = await q.orderBy('memberships.created_at', 'asc').orderBy('users.id', 'asc').limit(limit + 1).execute();
      const p = page(rows, limit, (r) => ({ at: r.created_at, id: r.id }));
      return {
        data: p.data.map((r) => ({ user_id: r.id, email: r.email, name: r.name, role: r.role, joined_at: r.created_at.toISOString() })),
        next_cursor: p.next_cursor,
      };
    },
  );

  app.patch(
    '/api/v1/org/members/:user_id',
    {
      config: { auth: 'org', permission: 'members:manage' },
      schema: {
        tags: ['members'],
        params: UserIdParams,
        body: Type.Object({ role: RoleShape }, { additionalProperties: false }),
        response: { 200: Type.Object({ user_id: Type.String(), role: RoleShape }) },
      },
    },
    async (req) => {
      const org = orgOf(req);
      const target = req.params.user_id;
      const role = req.body.role;
      await db.transaction().execute(async (trx) => {
        const owners = await lockOwners(trx, org.id);
        const m = await getMembership(trx, org.id, target);
        if (!m) throw new ApiError('not_found', 'No such member.');
        if (m.role === role) return;
        if (!mayGrant(org.role, role) || (m.role === 'owner' && org.role !== 'owner')) {
          throw new ApiError('forbidden', `The ${org.role} role may not make this change.`);
        }
        if (m.role === 'owner' && owners <= 1) throw new ApiError('last_owner', 'The last owner cannot be demoted; transfer ownership first.');
        await setRole(trx, org.id, target, role);
        await audit(trx, clock, actorOf(req), { orgId: org.id, action: 'member.role_changed', target: `user:${target}`, data: { from: m.role, to: role } });
      });
      await deps.auth.changed({ user: target });
      return { user_id: target, role };
    },
  );

  app.delete(
    '/api/v1/org/members/:user_id',
    {
      config: { auth: 'org', permission: 'org:read' },
      schema: { tags: ['members'], params: UserIdParams, response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      const org = orgOf(req);
      const p = principalOf(req);
      const target = req.params.user_id;
      const leaving = p.user?.id === target;
      if (!leaving && !mayGrant(org.role, 'member')) throw new ApiError('forbidden', `The ${org.role} role may not remove members.`);
      await db.transaction().execute(async (trx) => {
        const owners = await lockOwners(trx, org.id);
        const m = await getMembership(trx, org.id, target);
        if (!m) throw new ApiError('not_found', 'No such member.');
        if (!leaving && m.role === 'owner' && org.role !== 'owner') throw new ApiError('forbidden', 'Only an owner may remove an owner.');
        if (m.role === 'owner' && owners <= 1) throw new ApiError('last_owner', 'The last owner cannot leave; transfer ownership first.');
        await trx.deleteFrom('memberships').where('org_id', '=', org.id).where('user_id', '=', target).execute();
        await audit(trx, clock, actorOf(req), {
          orgId: org.id,
          action: leaving ? 'member.left' : 'member.removed',
          target: `user:${target}`,
          data: { role: m.role },
        });
      });
      await deps.auth.changed({ user: target });
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/org/transfer-ownership',
    {
      config: { auth: 'org', permission: 'org:transfer' },
      schema: {
        tags: ['orgs'],
        body: Type.Object({ user_id: Uuid }, { additionalProperties: false }),
        response: { 200: Type.Object({ owner: Type.String(), previous_owner_role: RoleShape }) },
      },
    },
    async (req) => {
      const org = orgOf(req);
      const me = userOf(req);
      const target = req.body.user_id;
      if (target === me.id) throw new ApiError('invalid_request', 'You already own this organisation.');
      await db.transaction().execute(async (trx) => {
        await lockOwners(trx, org.id);
        const m = await getMembership(trx, org.id, target);
        if (!m) throw new ApiError('not_found', 'No such member.');
        await setRole(trx, org.id, target, 'owner');
        await setRole(trx, org.id, me.id, 'admin');
        await audit(trx, clock, actorOf(req), {
          orgId: org.id,
          action: 'org.ownership_transferred',
          target: `user:${target}`,
          data: { from: me.id, to: target, target_previous_role: m.role },
        });
      });
      await deps.auth.changed({ user: target });
      await deps.auth.changed({ user: me.id });
      return { owner: target, previous_owner_role: 'admin' as const };
    },
  );

  invitationRoutes(app, deps);
}
