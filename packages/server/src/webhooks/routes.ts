import type { FastifyContextConfig, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { requireInstanceAdmin } from '../auth/instance-admin.js';
import type { Deps } from '../deps.js';
import { requirePermission } from '../orgs/context.js';
import { ApiError } from '../errors.js';
import { decodeCursor, PageOf, PageQuery, page } from '../http/pagination.js';
import { actorOf, orgOf, principalOf } from '../http/request.js';
import { Timestamp, Uuid } from '../http/shapes.js';
import type { App } from '../http/types.js';
import { startAuditFileSink } from './audit-file.js';
import { changeEndpoint, createEndpoint, ENDPOINT_LIMITS, removeEndpoint, rotateSecret } from './manage.js';
import {
  type Delivery,
  type Endpoint,
  findEndpoint,
  listDeliveries,
  listEndpoints,
  type Owner,
  resendDelivery,
} from './queries.js';
import { type DeliveryWorker, startDeliveryWorker } from './worker.js';
import { noContent } from '../http/schemas/responses.js';

const OrNull = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const EndpointShape = Type.Object({
  id: Type.String(),
  url: Type.String(),
  description: Type.String(),
  events: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  /** `failing`: disabled after failing for the whole retry window. */
  disabled_reason: OrNull(Type.String()),
  failing_since: OrNull(Timestamp),
  created_at: Timestamp,
  updated_at: Timestamp,
});
const WithSecret = Type.Object({
  ...EndpointShape.properties,
  /** The signing secret (Standard Webhooks, `whsec_…`): shown this once. */
  secret: Type.String(),
});
const DeliveryShape = Type.Object({
  id: Type.String(),
  endpoint_id: Type.String(),
  event_id: Type.String(),
  event_type: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
  attempts: Type.Integer(),
  next_attempt_at: OrNull(Timestamp),
  last_attempt_at: OrNull(Timestamp),
  /** The receiver's HTTP status at the last attempt, if it answered. */
  response_status: OrNull(Type.Integer()),
  /** Why the last attempt failed: `http_<status>`, `timeout`, `network`, `forbidden_address`… */
  error: OrNull(Type.String()),
  created_at: Timestamp,
});

const Url = Type.String({ minLength: 1, maxLength: ENDPOINT_LIMITS.urlLength });
const Events = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
  minItems: 1,
  maxItems: ENDPOINT_LIMITS.events,
});
const Description = Type.String({ maxLength: 200 });
const CreateBody = Type.Object(
  {
    url: Url,
    events: Events,
    description: Type.Optional(Description),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const UpdateBody = Type.Object(
  {
    url: Type.Optional(Url),
    events: Type.Optional(Events),
    description: Type.Optional(Description),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);
const EndpointParams = Type.Object({ id: Uuid }, { additionalProperties: false });
const DeliveryParams = Type.Object({ id: Uuid, delivery_id: Uuid }, { additionalProperties: false });

function endpointOut(e: Endpoint) {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    events: e.events,
    enabled: e.enabled,
    disabled_reason: e.disabledReason,
    failing_since: e.failingSince?.toISOString() ?? null,
    created_at: e.createdAt.toISOString(),
    updated_at: e.updatedAt.toISOString(),
  };
}

function deliveryOut(d: Delivery) {
  return {
    id: d.id,
    endpoint_id: d.endpointId,
    event_id: d.eventId,
    event_type: d.eventType,
    status: d.status,
    attempts: d.attempts,
    next_attempt_at: d.nextAttemptAt?.toISOString() ?? null,
    last_attempt_at: d.lastAttemptAt?.toISOString() ?? null,
    response_status: d.responseStatus,
    error: d.error,
    created_at: d.createdAt.toISOString(),
  };
}

function notFound(): ApiError {
  return new ApiError('not_found', 'No such webhook endpoint.');
}

interface Family {
  /** `/api/v1/org/webhooks` or `/api/v1/admin/webhooks`. */
  base: string;
  tag: string;
  config: FastifyContextConfig;
  /** Checks the caller may manage this family's endpoints, and answers whose they are. */
  owner(req: FastifyRequest): Promise<Owner>;
}

/** The same routes for an org's endpoints and the instance's. */
function family(app: App, deps: Deps, f: Family, wake: () => void): void {
  const { base, config } = f;
  const schema = { tags: [f.tag] };
  const mustFind = async (owner: Owner, id: string) => {
    const e = await findEndpoint(deps.db, owner, id);
    if (!e) throw notFound();
    return e;
  };

  app.get(
    base,
    { config, schema: { ...schema, response: { 200: Type.Object({ data: Type.Array(EndpointShape) }) } } },
    async (req) => {
      const owner = await f.owner(req);
      return { data: (await listEndpoints(deps.db, owner)).map(endpointOut) };
    },
  );

  app.post(
    base,
    { config, schema: { ...schema, body: CreateBody, response: { 201: WithSecret } } },
    async (req, reply) => {
      const owner = await f.owner(req);
      const { endpoint, secret } = await createEndpoint(deps, actorOf(req), owner, req.body);
      wake();
      reply.code(201);
      return { ...endpointOut(endpoint), secret };
    },
  );

  app.get(
    `${base}/:id`,
    { config, schema: { ...schema, params: EndpointParams, response: { 200: EndpointShape } } },
    async (req) => endpointOut(await mustFind(await f.owner(req), req.params.id)),
  );

  app.patch(
    `${base}/:id`,
    {
      config,
      schema: { ...schema, params: EndpointParams, body: UpdateBody, response: { 200: EndpointShape } },
    },
    async (req) => {
      const owner = await f.owner(req);
      const e = await changeEndpoint(deps, actorOf(req), owner, req.params.id, req.body);
      if (!e) throw notFound();
      if (e.enabled) wake();
      return endpointOut(e);
    },
  );

  app.post(
    `${base}/:id/rotate-secret`,
    { config, schema: { ...schema, params: EndpointParams, response: { 200: WithSecret } } },
    async (req) => {
      const owner = await f.owner(req);
      const r = await rotateSecret(deps, actorOf(req), owner, req.params.id);
      if (!r) throw notFound();
      return { ...endpointOut(r.endpoint), secret: r.secret };
    },
  );

  app.delete(
    `${base}/:id`,
    { config, schema: { ...schema, params: EndpointParams, response: { 204: noContent('Deleted.') } } },
    async (req, reply) => {
      const owner = await f.owner(req);
      if (!(await removeEndpoint(deps, actorOf(req), owner, req.params.id))) throw notFound();
      reply.code(204);
    },
  );

  app.get(
    `${base}/:id/deliveries`,
    {
      config,
      schema: {
        ...schema,
        params: EndpointParams,
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: PageOf(DeliveryShape) },
      },
    },
    async (req) => {
      const owner = await f.owner(req);
      const e = await mustFind(owner, req.params.id);
      const limit = req.query.limit ?? 50;
      const rows = await listDeliveries(deps.db, e.id, limit, decodeCursor(req.query.cursor));
      const p = page(rows, limit, (d) => ({ at: d.createdAt, id: d.id }));
      return { data: p.data.map(deliveryOut), next_cursor: p.next_cursor };
    },
  );

  app.post(
    `${base}/:id/deliveries/:delivery_id/resend`,
    { config, schema: { ...schema, params: DeliveryParams, response: { 202: DeliveryShape } } },
    async (req, reply) => {
      const owner = await f.owner(req);
      const e = await mustFind(owner, req.params.id);
      if (!e.enabled) throw new ApiError('conflict', 'The endpoint is disabled: enable it before resending.');
      const d = await resendDelivery(deps.db, e.id, req.params.delivery_id, deps.clock.now());
      if (!d) throw new ApiError('not_found', 'No such delivery.');
      wake();
      reply.code(202);
      return deliveryOut(d);
    },
  );
}

/**
 * `/api/v1/org/webhooks` (org owners and admins: `org:update`, and `audit:read` since every audit
 * event can be delivered) and `/api/v1/admin/webhooks` (instance admins). Also runs, for as long
 * as the app is up, this node's delivery worker and, with `AUDIT_LOG_FILE`, the audit file sink.
 */
export function webhookRoutes(app: App, deps: Deps): void {
  let worker: DeliveryWorker | null = null;
  const wake = () => worker?.wake();
  app.addHook('onReady', async () => {
    worker = startDeliveryWorker({
      // The storage's own handle: the worker's polling is not the app's request traffic.
      db: deps.storage.db,
      clock: deps.clock,
      config: deps.config,
      mailer: deps.mailer,
      log: app.log.child({ component: 'webhooks' }),
    });
  });
  let auditFile: { stop(): Promise<void> } | null = null;
  if (deps.config.auditLogFile) {
    const file = deps.config.auditLogFile;
    app.addHook('onReady', async () => {
      auditFile = startAuditFileSink({
        db: deps.storage.db,
        clock: deps.clock,
        file,
        log: app.log.child({ component: 'audit-file' }),
      });
    });
  }
  app.addHook('onClose', async () => {
    await worker?.stop();
    await auditFile?.stop();
  });

  family(
    app,
    deps,
    {
      base: '/api/v1/org/webhooks',
      tag: 'webhooks',
      config: { auth: 'org', permission: 'org:update' },
      owner: async (req) => {
        const org = orgOf(req);
        requirePermission(org, principalOf(req), 'audit:read');
        return org.id;
      },
    },
    wake,
  );
  family(
    app,
    deps,
    {
      base: '/api/v1/admin/webhooks',
      tag: 'admin',
      config: { auth: 'user', credentials: ['session', 'admin-token'] },
      owner: async (req) => {
        await requireInstanceAdmin(deps.db, principalOf(req));
        return null;
      },
    },
    wake,
  );
}
