import { Type } from 'typebox';
import type { Deps } from '../deps.js';
import type { App } from '../http/types.js';
import { ScimError } from './errors.js';
import { GROUP_ATTRS } from './filter-sql.js';
import { createGroup, deleteGroup, updateGroup } from './group-ops.js';
import { getGroup, listGroups, membersOfGroups, type ScimGroupRow } from './group-queries.js';
import { type GroupResource, groupResource, type MemberRef } from './groups.js';
import { listBody, listRequest } from './list.js';
import { parsePatchRequest } from './patch.js';
import { carries, FULL, parseProjection, type Projection, project } from './projection.js';
import { GROUP_RESOURCE } from './schema.js';
import { ListOf, ListQuery, ProjectionQuery, ScimGroup, ScimIdParams } from './shapes.js';
import { callerOf, scimId, sendResource } from './user-routes.js';
import { etag } from './versions.js';

const tags = ['scim'];
const security = [{ scimToken: [] }];

/** `/Groups` (RFC 7644 §3): the org's groups; one mapped to a role gives it to its members. */
export function groupRoutes(app: App, deps: Deps, base: string, cfg: { auth: 'none'; csrf: false }): void {
  const { db } = deps;

  async function resources(orgId: string, rows: ScimGroupRow[], p: Projection): Promise<GroupResource[]> {
    let members: Map<string, MemberRef[]> | null = null;
    // Identity providers list groups with excludedAttributes=members: then the members are not read at all.
    if (carries(p, 'members')) {
      members = new Map();
      for (const m of await membersOfGroups(
        db,
        orgId,
        rows.map((r) => r.id),
      )) {
        const list = members.get(m.group_id) ?? [];
        list.push({ value: m.scim_user_id, display: m.user_name });
        members.set(m.group_id, list);
      }
    }
    return rows.map(
      (r) => project(groupResource(r, members ? (members.get(r.id) ?? []) : null, base), p) as GroupResource,
    );
  }

  async function one(orgId: string, row: ScimGroupRow, p: Projection = FULL) {
    return (await resources(orgId, [row], p))[0]!;
  }

  app.get(
    '/Groups',
    {
      config: cfg,
      schema: { tags, security, querystring: ListQuery, response: { 200: ListOf(ScimGroup) } },
    },
    async (req, reply) => {
      const c = callerOf(req);
      const l = listRequest(req.query, GROUP_RESOURCE, GROUP_ATTRS);
      const { total, rows } = await listGroups(db, c.orgId, l.where, l.offset, l.limit);
      return sendResource(
        reply,
        200,
        listBody(total, l.offset, await resources(c.orgId, rows, l.projection)),
      );
    },
  );

  app.get(
    '/Groups/:id',
    {
      config: cfg,
      schema: {
        tags,
        security,
        params: ScimIdParams,
        querystring: ProjectionQuery,
        response: { 200: ScimGroup },
      },
    },
    async (req, reply) => {
      const c = callerOf(req);
      const p = parseProjection(GROUP_RESOURCE, req.query.attributes, req.query.excludedAttributes);
      const row = await getGroup(db, c.orgId, scimId(req.params.id, 'group'));
      if (!row) throw new ScimError('not_found', 'No such group.');
      return sendResource(reply, 200, await one(c.orgId, row, p), row.version);
    },
  );

  app.post(
    '/Groups',
    {
      config: cfg,
      schema: {
        tags,
        security,
        description: 'Body: a SCIM Group (RFC 7643 §4.2), optionally with the Latchkey extension `role`.',
        response: { 201: ScimGroup },
      },
    },
    async (req, reply) => {
      const c = callerOf(req);
      const row = await createGroup(deps, c, req.body);
      reply.header('location', `${base}/Groups/${row.id}`);
      return sendResource(reply, 201, await one(c.orgId, row), row.version);
    },
  );

  app.put(
    '/Groups/:id',
    {
      config: cfg,
      schema: {
        tags,
        security,
        description: 'Body: the whole SCIM Group. Without the Latchkey extension the role mapping stays.',
        params: ScimIdParams,
        response: { 200: ScimGroup },
      },
    },
    async (req, reply) => {
      const c = callerOf(req);
      const id = scimId(req.params.id, 'group');
      const row = await updateGroup(deps, c, id, { replace: req.body }, req.headers['if-match']);
      return sendResource(reply, 200, await one(c.orgId, row), row.version);
    },
  );

  app.patch(
    '/Groups/:id',
    {
      config: cfg,
      schema: {
        tags,
        security,
        description:
          'Body: a PatchOp message. Answers 204, or 200 with the group when `attributes` or `excludedAttributes` is given.',
        params: ScimIdParams,
        querystring: ProjectionQuery,
        response: { 200: ScimGroup, 204: Type.Null() },
      },
    },
    async (req, reply) => {
      const c = callerOf(req);
      const id = scimId(req.params.id, 'group');
      const ops = parsePatchRequest(req.body);
      const { attributes, excludedAttributes } = req.query;
      const p = parseProjection(GROUP_RESOURCE, attributes, excludedAttributes);
      const row = await updateGroup(deps, c, id, { patch: ops }, req.headers['if-match']);
      if (attributes === undefined && excludedAttributes === undefined) {
        reply.header('etag', etag(row.version));
        return reply.code(204).send(null);
      }
      return sendResource(reply, 200, await one(c.orgId, row, p), row.version);
    },
  );

  app.delete(
    '/Groups/:id',
    {
      config: cfg,
      schema: { tags, security, params: ScimIdParams, response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      const c = callerOf(req);
      await deleteGroup(deps, c, scimId(req.params.id, 'group'), req.headers['if-match']);
      return reply.code(204).send(null);
    },
  );
}
