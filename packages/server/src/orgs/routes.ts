import { Type } from 'typebox';
import { cleanName } from '../lib/names.js';
import { isUniqueViolation } from '../db/errors.js';
import { audit } from '../audit/log.js';
import type { Permission } from '../auth/permissions.js';
import type { OrgContext } from '../auth/principal.js';
import type { Deps } from '../deps.js';
import { membershipsOf, permissionsIn } from './context.js';
import { ApiError } from '../errors.js';
import { actorOf, orgOf, principalOf, userOf } from '../http/request.js';
import { Name, OrgShape, RoleShape, Timestamp, UserShape } from '../http/shapes.js';
import type { App } from '../http/types.js';
import { invitationRoutes } from './invitation-routes.js';
import { memberRoutes } from './member-routes.js';
import {
  deleteOrg,
  freeSlug,
  insertOrg,
  lockOrg,
  orgCreatedAt,
  renameUser,
  slugTaken,
  updateOrg,
} from './queries.js';
import { ROLE_PERMISSIONS } from './roles.js';
import { isValidSlug, SLUG_MAX } from './slug.js';

const Slug = Type.String({ minLength: 1, maxLength: SLUG_MAX });
const OrgDetail = Type.Object({
  id: Type.String(),
  slug: Type.String(),
  name: Type.String(),
  role: RoleShape,
  created_at: Timestamp,
});

/** Every permission some role grants, as a string enum in the OpenAPI document. */
const PermissionShape = Type.Unsafe<Permission>(
  Type.String({ enum: [...new Set(Object.values(ROLE_PERMISSIONS).flatMap((ps) => [...ps]))] }),
);
/** An org in `/api/v1/me`: the person's role there and what the calling credential may do in it. */
const MeOrg = Type.Object({
  ...OrgShape.properties,
  /** The role's permissions that the credential's scopes also hold (role ∩ scopes). */
  permissions: Type.Array(PermissionShape),
});

function slugOrThrow(slug: string): string {
  if (!isValidSlug(slug)) {
    throw new ApiError(
      'invalid_request',
      'A slug is 1–40 lowercase letters, digits and single hyphens, not starting or ending with a hyphen.',
    );
  }
  return slug;
}

/** `/api/v1/me`, `/api/v1/orgs` and `/api/v1/org`; members and invitations live beside it. */
export function orgRoutes(app: App, deps: Deps): void {
  const { db, clock } = deps;

  app.get(
    '/api/v1/me',
    {
      config: { auth: 'user', scope: 'account:read' },
      schema: {
        tags: ['me'],
        response: {
          200: Type.Object({
            user: Type.Union([UserShape, Type.Null()]),
            org: Type.Union([MeOrg, Type.Null()]),
            orgs: Type.Array(MeOrg),
            /** Whether the person has proven their address (until then: no tokens, no OAuth apps). */
            email_verified: Type.Boolean(),
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
      const orgs = p.user ? await membershipsOf(deps, p.user.id, req) : [];
      const withPermissions = (o: OrgContext) => ({
        id: o.id,
        slug: o.slug,
        name: o.name,
        role: o.role,
        permissions: permissionsIn(o, p),
      });
      return {
        user: p.user,
        org: req.org ? withPermissions(req.org) : null,
        orgs: orgs.map(withPermissions),
        email_verified: p.emailVerified,
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
      schema: {
        tags: ['me'],
        body: Type.Object({ name: Name }, { additionalProperties: false }),
        response: { 200: UserShape },
      },
    },
    async (req) => {
      const user = userOf(req);
      const name = cleanName(req.body.name);
      if (!name) throw new ApiError('invalid_request', 'The name must not be empty.');
      await db.transaction().execute(async (trx) => {
        await renameUser(trx, user.id, name, clock.now());
        await audit(trx, clock, actorOf(req), {
          orgId: null,
          action: 'user.updated',
          target: `user:${user.id}`,
          data: { fields: ['name'] },
        });
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
          if (wanted && (await slugTaken(trx, wanted)))
            throw new ApiError('slug_taken', 'This slug is taken.');
          const o = await insertOrg(trx, clock, {
            name,
            slug: wanted ?? (await freeSlug(trx, name)),
            ownerId: user.id,
          });
          await audit(trx, clock, actorOf(req), {
            orgId: o.id,
            action: 'org.created',
            target: `org:${o.id}`,
            data: { slug: o.slug },
          });
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
    {
      config: { auth: 'org', permission: 'org:read' },
      schema: { tags: ['orgs'], response: { 200: OrgDetail } },
    },
    async (req) => {
      const org = orgOf(req);
      const row = await orgCreatedAt(db, org.id);
      return { ...org, created_at: row.created_at.toISOString() };
    },
  );

  app.patch(
    '/api/v1/org',
    {
      config: { auth: 'org', permission: 'org:update' },
      schema: {
        tags: ['orgs'],
        body: Type.Object(
          { name: Type.Optional(Name), slug: Type.Optional(Slug) },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: OrgDetail },
      },
    },
    async (req) => {
      const org = orgOf(req);
      const name = req.body.name === undefined ? undefined : cleanName(req.body.name);
      if (name === '') throw new ApiError('invalid_request', 'The name must not be empty.');
      const slug = req.body.slug === undefined ? undefined : slugOrThrow(req.body.slug);
      try {
        const { row, changed } = await db.transaction().execute(async (trx) => {
          const current = await lockOrg(trx, org.id);
          // Deleted since the request was authorised: the same answer as for any org one cannot act in.
          if (!current) throw new ApiError('org_forbidden', 'You cannot act in this organisation.');
          const newName = name !== undefined && name !== current.name ? name : undefined;
          const newSlug = slug !== undefined && slug !== current.slug ? slug : undefined;
          // Nothing changes: nothing to write, nothing to audit.
          if (newName === undefined && newSlug === undefined) return { row: current, changed: false };
          if (newSlug && (await slugTaken(trx, newSlug)))
            throw new ApiError('slug_taken', 'This slug is taken.');
          const updated = await updateOrg(trx, org.id, { name: newName, slug: newSlug }, clock.now());
          await audit(trx, clock, actorOf(req), {
            orgId: org.id,
            action: 'org.updated',
            target: `org:${org.id}`,
            data: {
              ...(newName ? { name: newName, previous_name: current.name } : {}),
              ...(newSlug ? { slug: newSlug, previous_slug: current.slug } : {}),
            },
          });
          return { row: updated, changed: true };
        });
        if (changed) await deps.auth.changed({ org: org.id });
        return {
          id: row.id,
          slug: row.slug,
          name: row.name,
          role: org.role,
          created_at: row.created_at.toISOString(),
        };
      } catch (err) {
        if (isUniqueViolation(err)) throw new ApiError('slug_taken', 'This slug is taken.');
        throw err;
      }
    },
  );

  app.delete(
    '/api/v1/org',
    {
      config: { auth: 'org', permission: 'org:delete' },
      schema: { tags: ['orgs'], response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      const org = orgOf(req);
      await db.transaction().execute(async (trx) => {
        const gone = await deleteOrg(trx, org.id);
        // Deleted by a racing request since this one was authorised: no second event, no 204.
        if (!gone) throw new ApiError('org_forbidden', 'You cannot act in this organisation.');
        // The audit row outlives the org (audit_events.org_id has no foreign key on purpose).
        await audit(trx, clock, actorOf(req), {
          orgId: org.id,
          action: 'org.deleted',
          target: `org:${org.id}`,
          data: { slug: gone.slug, name: gone.name },
        });
      });
      // Its members' memberships and every token bound to it end on every node.
      await deps.auth.changed({ org: org.id });
      return reply.code(204).send(null);
    },
  );

  memberRoutes(app, deps);
  invitationRoutes(app, deps);
}
