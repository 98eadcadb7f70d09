import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Deps } from '../deps.js';
import type { App } from '../http/types.js';
import { UUID_RE } from '../lib/secrets.js';
import { SCIM_CONTENT_TYPE, ScimError } from './errors.js';
import { USER_ATTRS } from './filter-sql.js';
import { sendInvitationMail } from './link.js';
import { listBody, listRequest } from './list.js';
import { parsePatchRequest } from './patch.js';
import { carries, FULL, parseProjection, type Projection, project } from './projection.js';
import { getUser, groupsOfUsers, listUsers, type ScimUserRow } from './queries.js';
import { USER_RESOURCE } from './schema.js';
import { ListOf, ListQuery, ProjectionQuery, ScimIdParams, ScimUser } from './shapes.js';
import { createUser, deleteUser, type ScimCaller, updateUser } from './user-ops.js';
import { type GroupRef, type UserResource, userResource } from './users.js';
import { etag } from './versions.js';

/** Who a SCIM request acts for; set by the SCIM scope's authentication hook. */
export function callerOf(req: FastifyRequest): ScimCaller {
  if (!req.scim) throw new ScimError('unauthorized', 'Send the SCIM secret as a bearer token.');
  return req.scim;
}

/** A SCIM id names nothing unless it is one of ours (a UUID): anything else is simply not found. */
export function scimId(id: string, what: string): string {
  if (!UUID_RE.test(id)) throw new ScimError('not_found', `No such ${what}.`);
  return id.toLowerCase();
}

export function sendResource(reply: FastifyReply, status: number, body: unknown, version?: number) {
  if (version !== undefined) reply.header('etag', etag(version));
  return reply.code(status).type(SCIM_CONTENT_TYPE).send(body);
}

const tags = ['scim'];
const security = [{ scimToken: [] }];

/** `/Users` (RFC 7644 §3): people provisioned into the org that owns the SCIM secret. */
export function userRoutes(app: App, deps: Deps, base: string, cfg: { auth: 'none'; csrf: false }): void {
  const { db } = deps;

  async function resources(orgId: string, rows: ScimUserRow[], p: Projection): Promise<UserResource[]> {
    const groups = new Map<string, GroupRef[]>();
    if (carries(p, 'groups')) {
      for (const g of await groupsOfUsers(
        db,
        orgId,
        rows.map((r) => r.id),
      )) {
        const list = groups.get(g.scim_user_id) ?? [];
        list.push({ value: g.id, display: g.display_name });
        groups.set(g.scim_user_id, list);
      }
    }
    return rows.map((r) => project(userResource(r, groups.get(r.id) ?? [], base), p) as UserResource);
  }

  async function one(orgId: string, row: ScimUserRow, p: Projection = FULL) {
    return (await resources(orgId, [row], p))[0]!;
  }

  app.get(
    '/Users',
    {
      config: cfg,
      schema: { tags, security, querystring: ListQuery, response: { 200: ListOf(ScimUser) } },
    },
    async (req, reply) => {
      const c = callerOf(req);
      const l = listRequest(req.query, USER_RESOURCE, USER_ATTRS);
      const { total, rows } = await listUsers(db, c.orgId, l.where, l.offset, l.limit);
      return sendResource(
        reply,
        200,
        listBody(total, l.offset, await resources(c.orgId, rows, l.projection)),
      );
    },
  );

  app.get(
    '/Users/:id',
    {
      config: cfg,
      schema: {
        tags,
        security,
        params: ScimIdParams,
        querystring: ProjectionQuery,
        response: { 200: ScimUser },
      },
    },
    async (req, reply) => {
      const c = callerOf(req);
      const p = parseProjection(USER_RESOURCE, req.query.attributes, req.query.excludedAttributes);
      const row = await getUser(db, c.orgId, scimId(req.params.id, 'user'));
      if (!row) throw new ScimError('not_found', 'No such user.');
      return sendResource(reply, 200, await one(c.orgId, row, p), row.version);
    },
  );

  app.post(
    '/Users',
    {
      config: cfg,
      schema: {
        tags,
        security,
        description: 'Body: a SCIM User (RFC 7643 §4.1). `userName` is the email address.',
        response: { 201: ScimUser },
      },
    },
    async (req, reply) => {
      const c = callerOf(req);
      const { row, invite } = await createUser(deps, c, req.body);
      if (invite) await sendInvitationMail(deps, req.log, invite);
      reply.header('location', `${base}/Users/${row.id}`);
      return sendResource(reply, 201, await one(c.orgId, row), row.version);
    },
  );

  app.put(
    '/Users/:id',
    {
      config: cfg,
      schema: {
        tags,
        security,
        description: 'Body: the whole SCIM User. A missing `active` leaves the membership as it is.',
        params: ScimIdParams,
        response: { 200: ScimUser },
      },
    },
    async (req, reply) => {
      const c = callerOf(req);
      const id = scimId(req.params.id, 'user');
      const { row, invite } = await updateUser(deps, c, id, { replace: req.body }, req.headers['if-match']);
      if (invite) await sendInvitationMail(deps, req.log, invite);
      return sendResource(reply, 200, await one(c.orgId, row), row.version);
    },
  );

  app.patch(
    '/Users/:id',
    {
      config: cfg,
      schema: {
        tags,
        security,
        description: 'Body: a PatchOp message (RFC 7644 §3.5.2). `active: false` deprovisions.',
        params: ScimIdParams,
        response: { 200: ScimUser },
      },
    },
    async (req, reply) => {
      const c = callerOf(req);
      const id = scimId(req.params.id, 'user');
      const ops = parsePatchRequest(req.body);
      const { row, invite } = await updateUser(deps, c, id, { patch: ops }, req.headers['if-match']);
      if (invite) await sendInvitationMail(deps, req.log, invite);
      return sendResource(reply, 200, await one(c.orgId, row), row.version);
    },
  );

  app.delete(
    '/Users/:id',
    {
      config: cfg,
      schema: { tags, security, params: ScimIdParams, response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      const c = callerOf(req);
      await deleteUser(deps, c, scimId(req.params.id, 'user'), req.headers['if-match']);
      return reply.code(204).send(null);
    },
  );
}
