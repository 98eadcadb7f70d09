import { Type } from 'typebox';
import { audit } from '../../audit/log.js';
import type { Deps } from '../../deps.js';
import { ApiError } from '../../errors.js';
import { decodeCursor, PageOf, PageQuery, page } from '../../http/pagination.js';
import { actorOf, orgOf, principalOf } from '../../http/request.js';
import type { App } from '../../http/types.js';
import { requireVerifiedEmail } from '../../tokens/mint.js';
import { noContent } from '../../http/schemas/responses.js';
import {
  rpRegistration,
  rpRegistrationOf,
  rpRegistrationFields,
  saveRpRegistration,
} from '../oidc/client-registration.js';
import type { Catalogue } from '../../tokens/catalogue.js';
import {
  deleteClient,
  findOrgApp,
  insertClient,
  newClientId,
  newClientSecret,
  orgApps,
  setClientSecret,
  toClient,
  updateClientMetadata,
} from '../store/clients.js';
import { revokeClientTokens } from '../store/tokens.js';
import { appScopeCeiling, cappedScopes } from './app-scopes.js';
import {
  AppShape,
  appShape,
  ClientIdParams,
  CreateBody,
  rpFrom,
  UpdateBody,
  validatedApp,
} from './app-shapes.js';

/**
 * `/api/v1/oauth/clients`: OAuth apps an org admin makes — public or confidential, with allowed
 * scopes; the secret is shown once and rotatable; deleting an app revokes every token issued to it.
 */
export function appRoutes(app: App, deps: Deps & { catalogue: Catalogue }): void {
  const { db, clock, catalogue } = deps;
  const cfg = { auth: 'org', permission: 'oauth:manage' } as const;

  const load = async (orgId: string, id: string) => {
    const row = await findOrgApp(db, orgId, id);
    if (!row) throw new ApiError('not_found', 'No such OAuth app.');
    return row;
  };

  app.post(
    '/api/v1/oauth/clients',
    { config: cfg, schema: { tags: ['oauth apps'], body: CreateBody, response: { 201: AppShape } } },
    async (req, reply) => {
      const org = orgOf(req);
      const b = req.body;
      requireVerifiedEmail(principalOf(req));
      const ceiling = appScopeCeiling(catalogue, org, principalOf(req));
      const scopes = cappedScopes(catalogue, ceiling, b.scopes, null);
      if (scopes && scopes.length === 0)
        throw new ApiError('forbidden', 'The credential holds no scope an app could be allowed.');
      const meta = validatedApp(catalogue, {
        client_name: b.name,
        redirect_uris: b.redirect_uris,
        token_endpoint_auth_method: b.type === 'public' ? 'none' : 'client_secret_basic',
        ...(scopes ? { scope: scopes.join(' ') } : {}),
        ...(b.grant_types ? { grant_types: b.grant_types } : {}),
      });
      const rp = rpFrom(b);
      const secret = meta.authMethod === 'none' ? null : newClientSecret();
      const who = actorOf(req);
      const client = await db.transaction().execute(async (trx) => {
        const c = await insertClient(trx, clock, {
          id: newClientId(),
          kind: 'app',
          orgId: org.id,
          meta,
          secretHash: secret?.hash ?? null,
          createdBy: who.actor,
        });
        await saveRpRegistration(trx, c.id, rp);
        await audit(trx, clock, who, {
          orgId: org.id,
          action: 'oauth.client_created',
          target: `client:${c.id}`,
          data: {
            client_id: c.id,
            name: c.name,
            type: b.type,
            redirect_uris: c.redirectUris,
            scopes: c.scopes,
            grant_types: c.grantTypes,
          },
        });
        return c;
      });
      return reply
        .code(201)
        .send({ ...appShape(client, who.actor, secret?.secret), ...rpRegistrationFields(rp) });
    },
  );

  app.get(
    '/api/v1/oauth/clients',
    {
      config: cfg,
      schema: {
        tags: ['oauth apps'],
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: PageOf(AppShape) },
      },
    },
    async (req) => {
      const org = orgOf(req);
      const limit = req.query.limit ?? 50;
      const after = decodeCursor(req.query.cursor);
      const rows = await orgApps(db, org.id, { limit, after });
      const p = page(rows, limit, (r) => ({ at: r.created_at, id: r.id }));
      return {
        data: p.data.map((r) => ({
          ...appShape(toClient(r), r.created_by),
          ...rpRegistrationFields(rpRegistrationOf(r.oidc)),
        })),
        next_cursor: p.next_cursor,
      };
    },
  );

  app.get(
    '/api/v1/oauth/clients/:id',
    { config: cfg, schema: { tags: ['oauth apps'], params: ClientIdParams, response: { 200: AppShape } } },
    async (req) => {
      const row = await load(orgOf(req).id, req.params.id);
      return {
        ...appShape(toClient(row), row.created_by),
        ...rpRegistrationFields(rpRegistrationOf(row.oidc)),
      };
    },
  );

  app.patch(
    '/api/v1/oauth/clients/:id',
    {
      config: cfg,
      schema: { tags: ['oauth apps'], params: ClientIdParams, body: UpdateBody, response: { 200: AppShape } },
    },
    async (req) => {
      const org = orgOf(req);
      const row = await load(org.id, req.params.id);
      const current = toClient(row);
      const b = req.body;
      const ceiling = appScopeCeiling(catalogue, org, principalOf(req));
      const scopes = cappedScopes(
        catalogue,
        ceiling,
        b.scopes === undefined ? undefined : b.scopes,
        b.scopes === null ? null : current.scopes,
      );
      if (scopes && scopes.length === 0)
        throw new ApiError('forbidden', 'The credential holds no scope an app could be allowed.');
      const meta = validatedApp(catalogue, {
        client_name: b.name ?? current.name,
        redirect_uris: b.redirect_uris ?? current.redirectUris,
        token_endpoint_auth_method: current.authMethod,
        ...(scopes ? { scope: scopes.join(' ') } : {}),
        grant_types: b.grant_types ?? current.grantTypes,
      });
      const before = await rpRegistration(db, row.id);
      const rp = rpFrom({
        post_logout_redirect_uris: b.post_logout_redirect_uris ?? before.postLogoutRedirectUris,
        ...(b.id_token_signed_response_alg || before.idTokenAlg
          ? { id_token_signed_response_alg: b.id_token_signed_response_alg ?? before.idTokenAlg! }
          : {}),
      });
      const now = clock.now();
      await db.transaction().execute(async (trx) => {
        await saveRpRegistration(trx, row.id, rp);
        await updateClientMetadata(trx, row.id, meta, now);
        await audit(trx, clock, actorOf(req), {
          orgId: org.id,
          action: 'oauth.client_updated',
          target: `client:${row.id}`,
          data: { client_id: row.id, changed: Object.keys(b) },
        });
      });
      await deps.auth.changed({ client: row.id });
      const updated = {
        ...current,
        name: meta.name,
        redirectUris: meta.redirectUris,
        scopes: meta.scopes,
        grantTypes: meta.grantTypes,
      };
      return { ...appShape(updated, row.created_by), ...rpRegistrationFields(rp) };
    },
  );

  app.post(
    '/api/v1/oauth/clients/:id/secret',
    { config: cfg, schema: { tags: ['oauth apps'], params: ClientIdParams, response: { 200: AppShape } } },
    async (req) => {
      const org = orgOf(req);
      const row = await load(org.id, req.params.id);
      if (row.auth_method === 'none') throw new ApiError('invalid_request', 'A public app has no secret.');
      const secret = newClientSecret();
      await db.transaction().execute(async (trx) => {
        await setClientSecret(trx, row.id, secret.hash, clock.now());
        await audit(trx, clock, actorOf(req), {
          orgId: org.id,
          action: 'oauth.client_secret_rotated',
          target: `client:${row.id}`,
          data: { client_id: row.id },
        });
      });
      await deps.auth.changed({ client: row.id });
      return appShape(toClient(row), row.created_by, secret.secret);
    },
  );

  app.delete(
    '/api/v1/oauth/clients/:id',
    {
      config: cfg,
      schema: {
        tags: ['oauth apps'],
        params: ClientIdParams,
        response: { 204: noContent('Deleted; its tokens are revoked.') },
      },
    },
    async (req, reply) => {
      const org = orgOf(req);
      const row = await load(org.id, req.params.id);
      const revoked = await db.transaction().execute(async (trx) => {
        const r = await revokeClientTokens(trx, clock, row.id);
        await deleteClient(trx, row.id);
        await audit(trx, clock, actorOf(req), {
          orgId: org.id,
          action: 'oauth.client_deleted',
          target: `client:${row.id}`,
          data: { client_id: row.id, name: row.name, revoked_tokens: r.prefixes.length },
        });
        return r;
      });
      await deps.auth.changed({ client: row.id });
      for (const h of revoked.hashes) await deps.auth.changed({ token: h });
      return reply.code(204).send();
    },
  );
}
