import { Type } from 'typebox';
import { audit } from '../audit/log.js';
import type { Deps } from '../deps.js';
import { ApiError } from '../errors.js';
import { actorOf, orgOf } from '../http/request.js';
import { IdParams, Timestamp } from '../http/shapes.js';
import type { App } from '../http/types.js';
import { certsText, sealClientSecret, spUrls, testConnection } from './connections.js';
import { idpUrlProblem } from './idp-fetch.js';
import { SSO_LIMITS } from './limits.js';
import {
  type ConnectionRow,
  countConnections,
  deleteConnection,
  getConnection,
  insertConnection,
  listConnections,
  updateConnection,
} from './queries.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const JitRole = Type.Union([Type.Literal('admin'), Type.Literal('member'), Type.Literal('billing')]);
const Url = Type.String({ minLength: 1, maxLength: 2000 });
const Secret = Type.String({ minLength: 1, maxLength: 2000 });
const Metadata = Type.String({ minLength: 1, maxLength: SSO_LIMITS.metadataMaxBytes });

const Connection = Type.Object({
  id: Type.String(),
  kind: Type.Union([Type.Literal('oidc'), Type.Literal('saml')]),
  name: Type.String(),
  enabled: Type.Boolean(),
  default_role: JitRole,
  oidc: Nullable(
    Type.Object({
      issuer: Nullable(Type.String()),
      client_id: Nullable(Type.String()),
      client_secret_set: Type.Boolean(),
      redirect_uri: Type.String(),
    }),
  ),
  saml: Nullable(
    Type.Object({
      metadata_url: Nullable(Type.String()),
      metadata_xml_set: Type.Boolean(),
      idp_entity_id: Nullable(Type.String()),
      idp_sso_url: Nullable(Type.String()),
      sp_entity_id: Type.String(),
      sp_metadata_url: Type.String(),
      acs_url: Type.String(),
    }),
  ),
  test: Type.Object({
    result: Nullable(Type.Union([Type.Literal('pass'), Type.Literal('fail')])),
    detail: Nullable(Type.String()),
    tested_at: Nullable(Timestamp),
  }),
  created_at: Timestamp,
});

const IdpFields = {
  oidc_issuer: Type.Optional(Url),
  oidc_client_id: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
  oidc_client_secret: Type.Optional(Secret),
  saml_metadata_xml: Type.Optional(Metadata),
  saml_metadata_url: Type.Optional(Url),
};

/** The API shape of a connection: declared fields only; the client secret never leaves. */
function out(c: ConnectionRow, publicUrl: string) {
  const sp = spUrls(publicUrl, c.id);
  return {
    id: c.id,
    kind: c.kind,
    name: c.name,
    enabled: c.enabled,
    default_role: c.default_role,
    oidc:
      c.kind === 'oidc'
        ? {
            issuer: c.oidc_issuer,
            client_id: c.oidc_client_id,
            client_secret_set: c.oidc_client_secret !== null,
            redirect_uri: `${publicUrl}/api/sso/oidc/callback`,
          }
        : null,
    saml:
      c.kind === 'saml'
        ? {
            metadata_url: c.saml_metadata_url,
            metadata_xml_set: c.saml_metadata_xml !== null,
            idp_entity_id: c.saml_idp_entity_id,
            idp_sso_url: c.saml_idp_sso_url,
            sp_entity_id: sp.spEntityId,
            sp_metadata_url: sp.spEntityId,
            acs_url: sp.acsUrl,
          }
        : null,
    test: { result: c.test_result, detail: c.test_detail, tested_at: c.tested_at?.toISOString() ?? null },
    created_at: c.created_at.toISOString(),
  };
}

/** `/api/v1/org/sso/connections`: an admin configures, tests, enables and removes connections. */
export function ssoConnectionRoutes(app: App, deps: Deps): void {
  const { db, clock, config } = deps;
  const admin = { auth: 'org', permission: 'org:update' } as const;
  const tags = ['sso'];

  const checkUrl = (field: string, v: string | undefined) => {
    const problem = v === undefined ? null : idpUrlProblem(v, config.ssoAllowLoopback);
    if (problem) throw new ApiError('invalid_request', `${field} ${problem}.`);
  };
  const load = async (id: string, orgId: string) => {
    const c = await getConnection(db, id, orgId);
    if (!c) throw new ApiError('not_found', 'No such SSO connection in this organisation.');
    return c;
  };

  app.get(
    '/api/v1/org/sso/connections',
    { config: admin, schema: { tags, response: { 200: Type.Object({ data: Type.Array(Connection) }) } } },
    async (req) => ({
      data: (await listConnections(db, orgOf(req).id)).map((c) => out(c, config.publicUrl)),
    }),
  );

  app.get(
    '/api/v1/org/sso/connections/:id',
    { config: admin, schema: { tags, params: IdParams, response: { 200: Connection } } },
    async (req) => out(await load(req.params.id, orgOf(req).id), config.publicUrl),
  );

  app.post(
    '/api/v1/org/sso/connections',
    {
      config: admin,
      schema: {
        tags,
        body: Type.Object(
          {
            kind: Type.Union([Type.Literal('oidc'), Type.Literal('saml')]),
            name: Type.String({ minLength: 1, maxLength: 100 }),
            default_role: Type.Optional(JitRole),
            ...IdpFields,
          },
          { additionalProperties: false },
        ),
        response: { 201: Connection },
      },
    },
    async (req, reply) => {
      const org = orgOf(req);
      const b = req.body;
      checkUrl('oidc_issuer', b.oidc_issuer);
      checkUrl('saml_metadata_url', b.saml_metadata_url);
      if (b.kind === 'oidc' && (!b.oidc_issuer || !b.oidc_client_id || !b.oidc_client_secret)) {
        throw new ApiError(
          'invalid_request',
          'An OIDC connection needs oidc_issuer, oidc_client_id and oidc_client_secret.',
        );
      }
      if (b.kind === 'saml' && !b.saml_metadata_xml === !b.saml_metadata_url) {
        throw new ApiError(
          'invalid_request',
          'A SAML connection needs saml_metadata_xml or saml_metadata_url (one).',
        );
      }
      const oidc = b.kind === 'oidc';
      const id = await db.transaction().execute(async (trx) => {
        const n = await countConnections(trx, org.id);
        if (Number(n.n) >= SSO_LIMITS.connectionsPerOrg) {
          throw new ApiError(
            'conflict',
            `An organisation has at most ${SSO_LIMITS.connectionsPerOrg} SSO connections.`,
          );
        }
        const id = await insertConnection(trx, clock, {
          org_id: org.id,
          kind: b.kind,
          name: b.name.trim(),
          default_role: b.default_role ?? 'member',
          oidc_issuer: oidc ? b.oidc_issuer!.replace(/\/+$/, '') : null,
          oidc_client_id: oidc ? b.oidc_client_id! : null,
          oidc_client_secret: oidc ? sealClientSecret(config, b.oidc_client_secret!) : null,
          saml_metadata_xml: oidc ? null : (b.saml_metadata_xml ?? null),
          saml_metadata_url: oidc ? null : (b.saml_metadata_url ?? null),
        });
        await audit(trx, clock, actorOf(req), {
          orgId: org.id,
          action: 'sso.connection_created',
          target: `sso_connection:${id}`,
          data: { kind: b.kind, name: b.name.trim() },
        });
        return id;
      });
      return reply.code(201).send(out(await load(id, org.id), config.publicUrl));
    },
  );

  app.patch(
    '/api/v1/org/sso/connections/:id',
    {
      config: admin,
      schema: {
        tags,
        params: IdParams,
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            default_role: Type.Optional(JitRole),
            enabled: Type.Optional(Type.Boolean()),
            ...IdpFields,
          },
          { additionalProperties: false },
        ),
        response: { 200: Connection },
      },
    },
    async (req) => {
      const org = orgOf(req);
      const c = await load(req.params.id, org.id);
      const b = req.body;
      checkUrl('oidc_issuer', b.oidc_issuer);
      checkUrl('saml_metadata_url', b.saml_metadata_url);
      const idpFields = Object.keys(IdpFields).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
      const wrongKind = idpFields.find((k) => !k.startsWith(`${c.kind}_`));
      if (wrongKind)
        throw new ApiError('invalid_request', `${wrongKind} does not apply to a ${c.kind} connection.`);
      // A changed IdP setting must be tested again before the connection signs anyone in.
      const retest = idpFields.length > 0;
      if (b.enabled === true && (retest || c.test_result !== 'pass')) {
        throw new ApiError(
          'sso_untested',
          'Test the connection (POST …/test) and see it pass before enabling it.',
        );
      }
      await db.transaction().execute(async (trx) => {
        await updateConnection(trx, clock, c.id, org.id, {
          ...(b.name !== undefined ? { name: b.name.trim() } : {}),
          ...(b.default_role !== undefined ? { default_role: b.default_role } : {}),
          ...(b.enabled !== undefined ? { enabled: b.enabled } : {}),
          ...(b.oidc_issuer !== undefined ? { oidc_issuer: b.oidc_issuer.replace(/\/+$/, '') } : {}),
          ...(b.oidc_client_id !== undefined ? { oidc_client_id: b.oidc_client_id } : {}),
          ...(b.oidc_client_secret !== undefined
            ? { oidc_client_secret: sealClientSecret(config, b.oidc_client_secret) }
            : {}),
          ...(b.saml_metadata_xml !== undefined
            ? { saml_metadata_xml: b.saml_metadata_xml, saml_metadata_url: null }
            : {}),
          ...(b.saml_metadata_url !== undefined
            ? { saml_metadata_url: b.saml_metadata_url, saml_metadata_xml: null }
            : {}),
          ...(retest ? { enabled: false, test_result: null, test_detail: null, tested_at: null } : {}),
        });
        await audit(trx, clock, actorOf(req), {
          orgId: org.id,
          action: 'sso.connection_updated',
          target: `sso_connection:${c.id}`,
          // Names of what changed, never the values (a client secret is among them).
          data: { fields: Object.keys(b).sort(), ...(b.enabled !== undefined ? { enabled: b.enabled } : {}) },
        });
      });
      return out(await load(c.id, org.id), config.publicUrl);
    },
  );

  app.post(
    '/api/v1/org/sso/connections/:id/test',
    { config: admin, schema: { tags, params: IdParams, response: { 200: Connection } } },
    async (req) => {
      const org = orgOf(req);
      const c = await load(req.params.id, org.id);
      const t = await testConnection(c, config);
      await db.transaction().execute(async (trx) => {
        await updateConnection(trx, clock, c.id, org.id, {
          tested_at: clock.now(),
          test_result: t.result,
          test_detail: t.detail,
          ...(t.result === 'pass' && t.metadata
            ? {
                saml_idp_entity_id: t.metadata.entityId,
                saml_idp_sso_url: t.metadata.ssoUrl,
                saml_idp_certs: certsText(t.metadata.certs),
              }
            : {}),
          // A failing test leaves an enabled connection enabled: disabling it would lift enforcement.
        });
        await audit(trx, clock, actorOf(req), {
          orgId: org.id,
          action: 'sso.connection_tested',
          target: `sso_connection:${c.id}`,
          data: { result: t.result, ...(t.result === 'fail' ? { code: t.code } : {}) },
        });
      });
      return out(await load(c.id, org.id), config.publicUrl);
    },
  );

  app.delete(
    '/api/v1/org/sso/connections/:id',
    { config: admin, schema: { tags, params: IdParams, response: { 204: Type.Null() } } },
    async (req, reply) => {
      const org = orgOf(req);
      await db.transaction().execute(async (trx) => {
        if (!(await deleteConnection(trx, req.params.id, org.id))) {
          throw new ApiError('not_found', 'No such SSO connection in this organisation.');
        }
        await audit(trx, clock, actorOf(req), {
          orgId: org.id,
          action: 'sso.connection_deleted',
          target: `sso_connection:${req.params.id}`,
        });
      });
      return reply.code(204).send(null);
    },
  );
}
