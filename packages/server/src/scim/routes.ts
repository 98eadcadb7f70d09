import type { Deps } from '../deps.js';
import { bearerToken } from '../auth/principal.js';
import type { App } from '../http/types.js';
import { RESOURCES, resourceType, SCHEMAS, schemaDocument, serviceProviderConfig } from './discovery.js';
import type { ScimCaller } from './definition.js';
import { ScimError } from './errors.js';
import { sendScimError, toScimError } from './error-routes.js';
import { GROUPS } from './groups/resource.js';
import { listBody } from './list.js';
import { recordSync } from './queries.js';
import { resourceRoutes, sendResource } from './resource-routes.js';
import { orgOfSecret } from './secret.js';
import {
  ListOf,
  ResourceTypeShape,
  SchemaShape,
  ScimIdParams,
  ServiceProviderConfigShape,
} from './shapes.js';
import { USERS } from './users/resource.js';

/** Where the SCIM service provider lives; identity providers are given `PUBLIC_URL` + this. */
export const SCIM_PREFIX = '/api/v1/scim/v2';

declare module 'fastify' {
  interface FastifyRequest {
    /** The org a SCIM request acts for, once its secret has been checked. */
    scim: ScimCaller | null;
  }
}

/**
 * The SCIM 2.0 service provider (RFC 7643, RFC 7644), registered in its own scope under
 * `SCIM_PREFIX`: it takes `application/scim+json` (and `application/json`), authenticates only
 * with the org's SCIM secret — the API's auth tiers never see these routes (`auth: 'none'` to the
 * global hook, which still applies the general rate limit) — and every error, ours or Fastify's,
 * leaves as an RFC 7644 error. Each request records the org's last sync.
 */
export async function scimRoutes(app: App, deps: Deps): Promise<void> {
  const base = `${deps.config.publicUrl}${SCIM_PREFIX}`;
  app.decorateRequest('scim', null);
  app.addContentTypeParser(
    'application/scim+json',
    { parseAs: 'string' },
    app.getDefaultJsonParser('error', 'error'),
  );
  app.setErrorHandler((err, req, reply) => sendScimError(reply, toScimError(err, req)));
  app.setNotFoundHandler((req, reply) =>
    sendScimError(
      reply,
      new ScimError('not_found', `No SCIM endpoint ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}.`),
    ),
  );

  app.addHook('onRequest', async (req) => {
    const token = bearerToken(req);
    const found = token ? await orgOfSecret(deps, token) : null;
    if (!found) {
      throw new ScimError('unauthorized', "Send the organisation's SCIM secret as a bearer token.", {
        'www-authenticate': `Bearer realm="latchkey-scim"${token ? ', error="invalid_token"' : ''}`,
      });
    }
    const ua = req.headers['user-agent'];
    req.scim = {
      orgId: found.orgId,
      actor: { actor: 'scim', ip: req.ip ?? null, userAgent: typeof ua === 'string' ? ua : null },
    };
  });

  app.addHook('onSend', async (req, reply) => {
    if (!req.scim) return;
    await recordSync(deps.db, req.scim.orgId, deps.clock.now(), reply.statusCode).catch((err: Error) =>
      req.log.warn({ err: err.message }, 'could not record the SCIM sync'),
    );
  });

  // The hook above authenticates; `auth: 'none'` keeps the session and token tiers out of it.
  const cfg = { auth: 'none', csrf: false } as const;
  const tags = ['scim'];
  const security = [{ scimToken: [] }];
  const docs = `${deps.config.publicUrl}/api/openapi.json`;

  app.get(
    '/ServiceProviderConfig',
    { config: cfg, schema: { tags, security, response: { 200: ServiceProviderConfigShape } } },
    async (_req, reply) => sendResource(reply, 200, serviceProviderConfig(base, docs)),
  );

  app.get(
    '/ResourceTypes',
    { config: cfg, schema: { tags, security, response: { 200: ListOf(ResourceTypeShape) } } },
    async (_req, reply) =>
      sendResource(
        reply,
        200,
        listBody(
          RESOURCES.length,
          0,
          RESOURCES.map((r) => resourceType(r, base)),
        ),
      ),
  );

  app.get(
    '/ResourceTypes/:id',
    { config: cfg, schema: { tags, security, params: ScimIdParams, response: { 200: ResourceTypeShape } } },
    async (req, reply) => {
      const rs = RESOURCES.find((r) => r.name === req.params.id);
      if (!rs) throw new ScimError('not_found', 'No such resource type.');
      return sendResource(reply, 200, resourceType(rs, base));
    },
  );

  app.get(
    '/Schemas',
    { config: cfg, schema: { tags, security, response: { 200: ListOf(SchemaShape) } } },
    async (_req, reply) =>
      sendResource(
        reply,
        200,
        listBody(
          SCHEMAS.length,
          0,
          SCHEMAS.map((s) => schemaDocument(s, base)),
        ),
      ),
  );

  app.get(
    '/Schemas/:id',
    { config: cfg, schema: { tags, security, params: ScimIdParams, response: { 200: SchemaShape } } },
    async (req, reply) => {
      const s = SCHEMAS.find((x) => x.id === req.params.id);
      if (!s) throw new ScimError('not_found', 'No such schema.');
      return sendResource(reply, 200, schemaDocument(s, base));
    },
  );

  resourceRoutes(app, deps, { def: USERS, base, cfg });
  resourceRoutes(app, deps, { def: GROUPS, base, cfg });
}
