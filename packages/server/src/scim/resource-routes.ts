import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { App } from '../http/types.js';
import { UUID_RE } from '../lib/secrets.js';
import type {
  Ref,
  ResourceDefinition,
  ResourceDeps,
  ScimCaller,
  StoredResource,
  WriteContext,
} from './definition.js';
import { SCIM_CONTENT_TYPE, ScimError } from './errors.js';
import { listBody, listRequest } from './list.js';
import { parsePatchRequest } from './patch.js';
import { carries, FULL, parseProjection, type Projection, project } from './projection.js';
import { ListOf, ListQuery, ProjectionQuery, ScimIdParams } from './shapes.js';
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

/** A SCIM response; with `version`, its ETag (RFC 7644 §3.14). */
export function sendResource(reply: FastifyReply, status: number, body: unknown, version?: number) {
  if (version !== undefined) reply.header('etag', etag(version));
  return reply.code(status).type(SCIM_CONTENT_TYPE).send(body);
}

const tags = ['scim'];
const security = [{ scimToken: [] }];

/**
 * One SCIM resource type's endpoints (RFC 7644 §3): list (filter, 1-based pagination,
 * projection), get, create (201 with Location), replace, patch and delete. Every answer that
 * names one resource carries its version as the ETag; writes pass `If-Match` to the definition,
 * which checks it under the row's lock. Every read and write is scoped to the caller's org.
 * `base` is the SCIM service's public URL; `cfg` the route config of the SCIM scope.
 */
export function resourceRoutes<Row extends StoredResource>(
  app: App,
  deps: ResourceDeps,
  r: { def: ResourceDefinition<Row>; base: string; cfg: { auth: 'none'; csrf: false } },
): void {
  const { def, base, cfg } = r;
  const { db } = deps;
  const { endpoint } = def.schema;
  const shape = def.shape;

  async function resources(orgId: string, rows: readonly Row[], p: Projection) {
    let related: Map<string, Ref[]> | null = null;
    // Left out by the projection, the related values are not read at all (identity providers list
    // groups with excludedAttributes=members).
    if (carries(p, def.related.attribute)) {
      related = new Map();
      for (const r of await def.related.load(
        db,
        orgId,
        rows.map((row) => row.id),
      )) {
        const list = related.get(r.of) ?? [];
        list.push({ value: r.value, display: r.display });
        related.set(r.of, list);
      }
    }
    return rows.map((row) =>
      project(def.toResource(row, related ? (related.get(row.id) ?? []) : null, base), p),
    );
  }

  async function one(orgId: string, row: Row, p: Projection = FULL) {
    return (await resources(orgId, [row], p))[0]!;
  }

  const writer = (req: FastifyRequest): WriteContext => ({ caller: callerOf(req), log: req.log });
  const idOf = (req: { params: { id: string } }) => scimId(req.params.id, def.noun);

  app.get(
    endpoint,
    {
      config: cfg,
      schema: { tags, security, querystring: ListQuery, response: { 200: ListOf(shape) } },
    },
    async (req, reply) => {
      const c = callerOf(req);
      const l = listRequest(req.query, def.schema, def.attrs);
      const { total, rows } = await def.list(db, c.orgId, l.where, l.offset, l.limit);
      return sendResource(
        reply,
        200,
        listBody(total, l.offset, await resources(c.orgId, rows, l.projection)),
      );
    },
  );

  app.get(
    `${endpoint}/:id`,
    {
      config: cfg,
      schema: {
        tags,
        security,
        params: ScimIdParams,
        querystring: ProjectionQuery,
        response: { 200: shape },
      },
    },
    async (req, reply) => {
      const c = callerOf(req);
      const p = parseProjection(def.schema, req.query.attributes, req.query.excludedAttributes);
      const row = await def.get(db, c.orgId, idOf(req));
      if (!row) throw new ScimError('not_found', `No such ${def.noun}.`);
      return sendResource(reply, 200, await one(c.orgId, row, p), row.version);
    },
  );

  app.post(
    endpoint,
    {
      config: cfg,
      schema: { tags, security, description: def.docs.create, response: { 201: shape } },
    },
    async (req, reply) => {
      const w = writer(req);
      const row = await def.create(deps, w, req.body);
      reply.header('location', `${base}${endpoint}/${row.id}`);
      return sendResource(reply, 201, await one(w.caller.orgId, row), row.version);
    },
  );

  app.put(
    `${endpoint}/:id`,
    {
      config: cfg,
      schema: {
        tags,
        security,
        description: def.docs.replace,
        params: ScimIdParams,
        response: { 200: shape },
      },
    },
    async (req, reply) => {
      const w = writer(req);
      const row = await def.update(deps, w, idOf(req), { replace: req.body }, req.headers['if-match']);
      return sendResource(reply, 200, await one(w.caller.orgId, row), row.version);
    },
  );

  const noContent = def.patchAnswer === 'no-content';
  app.patch(
    `${endpoint}/:id`,
    {
      config: cfg,
      schema: {
        tags,
        security,
        description: def.docs.patch,
        params: ScimIdParams,
        querystring: ProjectionQuery,
        response: noContent ? { 200: shape, 204: Type.Null() } : { 200: shape },
      },
    },
    async (req, reply) => {
      const w = writer(req);
      const id = idOf(req);
      const ops = parsePatchRequest(req.body);
      // The resource a 200 answers is subject to `attributes` / `excludedAttributes` (RFC 7644 §3.5.2, §3.9).
      const { attributes, excludedAttributes } = req.query;
      const p = parseProjection(def.schema, attributes, excludedAttributes);
      const row = await def.update(deps, w, id, { patch: ops }, req.headers['if-match']);
      if (noContent && attributes === undefined && excludedAttributes === undefined) {
        reply.header('etag', etag(row.version));
        return reply.code(204).send(null);
      }
      return sendResource(reply, 200, await one(w.caller.orgId, row, p), row.version);
    },
  );

  app.delete(
    `${endpoint}/:id`,
    {
      config: cfg,
      schema: { tags, security, params: ScimIdParams, response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      const w = writer(req);
      await def.remove(deps, w, idOf(req), req.headers['if-match']);
      return reply.code(204).send(null);
    },
  );
}
