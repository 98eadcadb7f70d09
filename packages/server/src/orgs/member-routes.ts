import type { Transaction } from 'kysely';
import { Type } from 'typebox';
import { audit } from '../audit/log.js';
import type { Database } from '../db/schema.js';
import type { Deps } from '../deps.js';
import type { OrgContext, Principal } from '../auth/principal.js';
import { ApiError } from '../errors.js';
import { decodeCursor, PageOf, PageQuery, page } from '../http/pagination.js';
import { actorOf, orgOf, principalOf, userOf } from '../http/request.js';
import { RoleShape, Timestamp, Uuid } from '../http/shapes.js';
import type { App } from '../http/types.js';
import { deleteMembership, getMembership, lockOwners, membersOf, setRole } from './queries.js';
import { mayGrant, type Role, roleAllows } from './roles.js';

const Member = Type.Object({
  user_id: Type.String(),
  email: Type.String(),
  name: Type.String(),
  role: RoleShape,
  joined_at: Timestamp,
});
const UserIdParams = Type.Object({ user_id: Uuid }, { additionalProperties: false });

/**
 * The caller's role as it stands inside the transaction, read after `lockOwners`. The role the
 * request was authorised with may be a moment old: a racing demotion or ownership transfer can
 * have committed since, and an owner-only change must not pass on a role its caller lost.
 * Org-bound credentials and break-glass access carry their own role.
 */
async function roleNow(trx: Transaction<Database>, org: OrgContext, p: Principal): Promise<Role> {
  if (!p.user || p.boundOrg || p.superuser) return org.role;
  const mine = await getMembership(trx, org.id, p.user.id);
  if (!mine) throw new ApiError('org_forbidden', 'You cannot act in this organisation.');
  return mine.role;
}

/** `/api/v1/org/members` (list, change role, remove or leave) and ownership transfer. */
export function memberRoutes(app: App, deps: Deps): void {
  const { db, clock } = deps;

  app.get(
    '/api/v1/org/members',
    {
      config: { auth: 'org', permission: 'members:read' },
      schema: {
        tags: ['members'],
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: PageOf(Member) },
      },
    },
    async (req) => {
      const org = orgOf(req);
      const limit = req.query.limit ?? 50;
      const after = decodeCursor(req.query.cursor);
      const rows = await membersOf(db, org.id, { limit, after });
      const p = page(rows, limit, (r) => ({ at: r.created_at, id: r.id }));
      return {
        data: p.data.map((r) => ({
          user_id: r.id,
          email: r.email,
          name: r.name,
          role: r.role,
          joined_at: r.created_at.toISOString(),
        })),
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
        const mine = await roleNow(trx, org, principalOf(req));
        if (!roleAllows(mine, 'members:manage'))
          throw new ApiError('forbidden', `The ${mine} role may not do this.`);
        const m = await getMembership(trx, org.id, target);
        if (!m) throw new ApiError('not_found', 'No such member.');
        // Checked before the no-op case: an admin naming `owner` is refused even for an owner.
        if (!mayGrant(mine, role) || (m.role === 'owner' && mine !== 'owner')) {
          throw new ApiError('forbidden', `The ${mine} role may not make this change.`);
        }
        if (m.role === role) return;
        if (m.role === 'owner' && owners.length <= 1)
          throw new ApiError('last_owner', 'The last owner cannot be demoted; transfer ownership first.');
        await setRole(trx, org.id, target, role);
        await audit(trx, clock, actorOf(req), {
          orgId: org.id,
          action: 'member.role_changed',
          target: `user:${target}`,
          data: { from: m.role, to: role },
        });
      });
      await deps.auth.changed({ user: target });
      return { user_id: target, role };
    },
  );

  app.delete(
    '/api/v1/org/members/:user_id',
    {
      config: { auth: 'org', permission: 'members:manage' },
      schema: { tags: ['members'], params: UserIdParams, response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      const org = orgOf(req);
      const p = principalOf(req);
      const target = req.params.user_id;
      const leaving = p.user?.id === target;
      if (!leaving && !mayGrant(org.role, 'member'))
        throw new ApiError('forbidden', `The ${org.role} role may not remove members.`);
      await db.transaction().execute(async (trx) => {
        const owners = await lockOwners(trx, org.id);
        const mine = await roleNow(trx, org, p);
        if (!leaving && !mayGrant(mine, 'member'))
          throw new ApiError('forbidden', `The ${mine} role may not remove members.`);
        const m = await getMembership(trx, org.id, target);
        if (!m) throw new ApiError('not_found', 'No such member.');
        if (!leaving && m.role === 'owner' && mine !== 'owner')
          throw new ApiError('forbidden', 'Only an owner may remove an owner.');
        if (m.role === 'owner' && owners.length <= 1)
          throw new ApiError('last_owner', 'The last owner cannot leave; transfer ownership first.');
        await deleteMembership(trx, org.id, target);
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

  /**
   * Leaving an org: the person's own membership, from a browser session (or a personal token a
   * session minted with account:write). Removing anyone else is `DELETE /org/members/{id}`.
   */
  app.delete(
    '/api/v1/org/membership',
    {
      config: { auth: 'org', permission: 'org:read', scope: 'account:write' },
      schema: { tags: ['members'], response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      const org = orgOf(req);
      const me = userOf(req).id;
      await db.transaction().execute(async (trx) => {
        const owners = await lockOwners(trx, org.id);
        const m = await getMembership(trx, org.id, me);
        if (!m) throw new ApiError('not_found', 'No such member.');
        if (m.role === 'owner' && owners.length <= 1)
          throw new ApiError('last_owner', 'The last owner cannot leave; transfer ownership first.');
        await deleteMembership(trx, org.id, me);
        await audit(trx, clock, actorOf(req), {
          orgId: org.id,
          action: 'member.left',
          target: `user:${me}`,
          data: { role: m.role },
        });
      });
      await deps.auth.changed({ user: me });
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
        const owners = await lockOwners(trx, org.id);
        // A racing transfer (or demotion) may have taken ownership away since the request was authorised.
        if (!owners.includes(me.id)) throw new ApiError('forbidden', 'Only an owner may transfer ownership.');
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
}
