import { Type } from 'typebox';
import type { Deps } from '../deps.js';
import { ApiError } from '../errors.js';
import { decodeCursor, PageOf, PageQuery, page } from '../http/pagination.js';
import { actorOf, orgOf } from '../http/request.js';
import { IdParams, Timestamp } from '../http/shapes.js';
import type { App } from '../http/types.js';
import { setGroupRole } from './groups/ops.js';
import { countMembers, pageGroups, type ScimGroupRow } from './groups/queries.js';
import { getConfig } from './queries.js';
import { SCIM_PREFIX } from './routes.js';
import { issueSecret, removeSecret } from './secret.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const MappedRole = Type.Union([
  Type.Literal('admin'),
  Type.Literal('member'),
  Type.Literal('billing'),
  Type.Null(),
]);

const Connection = Type.Object({
  endpoint_url: Type.String(),
  token_exists: Type.Boolean(),
  token_prefix: Nullable(Type.String()),
  token_created_at: Nullable(Timestamp),
  last_sync_at: Nullable(Timestamp),
  last_sync_result: Type.Union([Type.Literal('success'), Type.Literal('failure'), Type.Null()]),
  /** HTTP status of the last SCIM request. */
  last_sync_status: Type.Union([Type.Integer(), Type.Null()]),
});

const Group = Type.Object({
  id: Type.String(),
  display_name: Type.String(),
  external_id: Nullable(Type.String()),
  role: MappedRole,
  members: Type.Integer(),
  created_at: Timestamp,
});

function groupOut(r: ScimGroupRow, members: number) {
  return {
    id: r.id,
    display_name: r.display_name,
    external_id: r.external_id,
    role: r.role,
    members,
    created_at: r.created_at.toISOString(),
  };
}

/**
 * `/api/v1/org/scim`: an admin turns SCIM on (the secret, shown once; asking again rotates it),
 * sees the last sync, and maps the groups the identity provider pushed to roles.
 */
export function scimAdminRoutes(app: App, deps: Deps): void {
  const { db } = deps;
  const endpoint = `${deps.config.publicUrl}${SCIM_PREFIX}`;
  const admin = { auth: 'org', permission: 'members:manage' } as const;
  const tags = ['scim'];

  app.get(
    '/api/v1/org/scim',
    { config: admin, schema: { tags, response: { 200: Connection } } },
    async (req) => {
      const c = await getConfig(db, orgOf(req).id);
      return {
        endpoint_url: endpoint,
        token_exists: Boolean(c?.token_hash),
        token_prefix: c?.token_prefix ?? null,
        token_created_at: c?.token_created_at?.toISOString() ?? null,
        last_sync_at: c?.last_sync_at?.toISOString() ?? null,
        last_sync_result: c?.last_sync_result ?? null,
        last_sync_status: c?.last_sync_status ?? null,
      };
    },
  );

  app.post(
    '/api/v1/org/scim/token',
    {
      config: admin,
      schema: {
        tags,
        response: {
          201: Type.Object({
            token: Type.String(),
            prefix: Type.String(),
            endpoint_url: Type.String(),
            rotated: Type.Boolean(),
          }),
        },
      },
    },
    async (req, reply) => {
      const s = await issueSecret(deps, actorOf(req), orgOf(req).id);
      return reply.code(201).send({ ...s, endpoint_url: endpoint });
    },
  );

  app.delete(
    '/api/v1/org/scim/token',
    { config: admin, schema: { tags, response: { 204: Type.Null() } } },
    async (req, reply) => {
      if (!(await removeSecret(deps, actorOf(req), orgOf(req).id)))
        throw new ApiError('not_found', 'This organisation has no SCIM secret.');
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/org/scim/groups',
    {
      config: admin,
      schema: {
        tags,
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: PageOf(Group) },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 50;
      const rows = await pageGroups(db, orgOf(req).id, decodeCursor(req.query.cursor), limit);
      const p = page(rows, limit, (r) => ({ at: r.created_at, id: r.id }));
      return { data: p.data.map((r) => groupOut(r, Number(r.members ?? 0))), next_cursor: p.next_cursor };
    },
  );

  app.patch(
    '/api/v1/org/scim/groups/:id',
    {
      config: admin,
      schema: {
        tags,
        params: IdParams,
        body: Type.Object({ role: MappedRole }, { additionalProperties: false }),
        response: { 200: Group },
      },
    },
    async (req) => {
      const org = orgOf(req);
      const row = await setGroupRole(deps, actorOf(req), org.id, req.params.id.toLowerCase(), req.body.role);
      if (!row) throw new ApiError('not_found', 'No such group.');
      return groupOut(row, await countMembers(db, org.id, row.id));
    },
  );
}
