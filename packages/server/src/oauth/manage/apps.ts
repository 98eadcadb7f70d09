import { Type } from 'typebox';
import { audit } from '../../audit/log.js';
import type { Deps } from '../../deps.js';
import { ApiError } from '../../errors.js';
import { decodeCursor, PageOf, PageQuery, page } from '../../http/pagination.js';
import type { OrgContext, Principal } from '../../auth/principal.js';
import { actorOf, orgOf, principalOf } from '../../http/request.js';
import { type Permission } from '../../auth/permissions.js';
import { ROLE_PERMISSIONS, roleAllows } from '../../orgs/roles.js';
import { requireVerifiedEmail } from '../../tokens/mint.js';
import { Timestamp } from '../../http/shapes.js';
import type { App } from '../../http/types.js';
import type { Catalogue } from '../catalogue.js';
import {
  CLIENT_NAME_MAX,
  type ClientMetadata,
  GRANT_TYPES,
  MAX_REDIRECT_URIS,
  parseClientMetadata,
} from '../client-metadata.js';
import {
  parseRpRegistration,
  POST_LOGOUT_URIS_MAX,
  rpRegistration,
  rpRegistrationOf,
  rpRegistrationFields,
  saveRpRegistration,
} from '../../oidc/client-registration.js';
import { type Client, insertClient, newClientId, newClientSecret, toClient } from '../store/clients.js';
import { OAuthError } from '../errors.js';
import { REDIRECT_URI_MAX_LENGTH } from '../redirect-uri.js';
import { revokeClientTokens } from '../store/tokens.js';
import { noContent } from '../../http/schemas/responses.js';

const ClientIdParams = Type.Object(
  { id: Type.String({ pattern: '^lkc_[0-9a-f]{32}$' }) },
  { additionalProperties: false },
);

const Fields = {
  name: Type.String({ minLength: 1, maxLength: CLIENT_NAME_MAX }),
  redirect_uris: Type.Array(Type.String({ minLength: 1, maxLength: REDIRECT_URI_MAX_LENGTH }), {
    maxItems: MAX_REDIRECT_URIS,
  }),
  scopes: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 100 }),
  grant_types: Type.Array(Type.Union(GRANT_TYPES.map((g) => Type.Literal(g))), { minItems: 1, maxItems: 4 }),
  // OpenID relying parties (RP-Initiated Logout §3.1, Registration §2).
  post_logout_redirect_uris: Type.Array(Type.String({ minLength: 1, maxLength: REDIRECT_URI_MAX_LENGTH }), {
    maxItems: POST_LOGOUT_URIS_MAX,
  }),
  id_token_signed_response_alg: Type.Union([Type.Literal('ES256'), Type.Literal('RS256')]),
};
const RpFields = {
  post_logout_redirect_uris: Type.Optional(Fields.post_logout_redirect_uris),
  id_token_signed_response_alg: Type.Optional(Fields.id_token_signed_response_alg),
};
const CreateBody = Type.Object(
  {
    name: Fields.name,
    type: Type.Union([Type.Literal('public'), Type.Literal('confidential')]),
    redirect_uris: Type.Optional(Fields.redirect_uris),
    scopes: Type.Optional(Fields.scopes),
    grant_types: Type.Optional(Fields.grant_types),
    ...RpFields,
  },
  { additionalProperties: false },
);
const UpdateBody = Type.Object(
  {
    name: Type.Optional(Fields.name),
    redirect_uris: Type.Optional(Fields.redirect_uris),
    scopes: Type.Optional(Type.Union([Fields.scopes, Type.Null()])),
    grant_types: Type.Optional(Fields.grant_types),
    ...RpFields,
  },
  { additionalProperties: false, minProperties: 1 },
);
const AppShape = Type.Object({
  id: Type.String(),
  client_id: Type.String(),
  name: Type.String(),
  type: Type.Union([Type.Literal('public'), Type.Literal('confidential')]),
  redirect_uris: Type.Array(Type.String()),
  scopes: Type.Union([Type.Array(Type.String()), Type.Null()]),
  grant_types: Type.Array(Type.String()),
  token_endpoint_auth_method: Type.String(),
  client_secret: Type.Optional(Type.String()),
  created_by: Type.String(),
  created_at: Timestamp,
  ...RpFields,
});

/** An app's OpenID registration from its body, checked like a dynamic registration's. */
function rpFrom(b: { post_logout_redirect_uris?: string[]; id_token_signed_response_alg?: string }) {
  try {
    return parseRpRegistration(b);
  } catch (err) {
    if (err instanceof OAuthError)
      throw new ApiError('invalid_request', err.description, { extra: { error: err.code } });
    throw err;
  }
}

function shape(c: Client, createdBy: string, secret?: string) {
  return {
    id: c.id,
    client_id: c.id,
    name: c.name,
    type: c.authMethod === 'none' ? ('public' as const) : ('confidential' as const),
    redirect_uris: [...c.redirectUris],
    scopes: c.scopes ? [...c.scopes] : null,
    grant_types: [...c.grantTypes],
    token_endpoint_auth_method: c.authMethod,
    ...(secret ? { client_secret: secret } : {}),
    created_by: createdBy,
    created_at: c.createdAt.toISOString(),
  };
}

/** App metadata through the one validator every client goes through; its errors become problems. */
function validated(catalogue: Catalogue, m: Record<string, unknown>): ClientMetadata {
  try {
    return parseClientMetadata(m, 'app', catalogue);
  } catch (err) {
    if (err instanceof OAuthError)
      throw new ApiError('invalid_request', err.description, { extra: { error: err.code } });
    throw err;
  }
}

const ORG_PERMISSIONS: ReadonlySet<string> = ROLE_PERMISSIONS.owner;

/**
 * The most an app made or edited by `p` in `org` may be allowed: no Latchkey permission the
 * caller's role lacks, and nothing a scoped credential does not hold itself.
 */
export function appScopeCeiling(catalogue: Catalogue, org: OrgContext, p: Principal): string[] {
  return catalogue.allScopes.filter(
    (s) =>
      (!ORG_PERMISSIONS.has(s) || roleAllows(org.role, s as Permission)) &&
      (p.scopes === null || p.scopes.includes(s)),
  );
}

/**
 * The allowed scopes to store: those asked for (refused beyond the ceiling), or the current
 * ones (or, when none are set, everything) cut down to the ceiling. Null: every scope, when the
 * ceiling is the whole catalogue.
 */
function cappedScopes(
  catalogue: Catalogue,
  ceiling: readonly string[],
  asked: readonly string[] | null | undefined,
  current: readonly string[] | null,
): string[] | null {
  if (asked) {
    const beyond = asked.filter((s) => catalogue.scopes.has(s) && !ceiling.includes(s));
    if (beyond.length)
      throw new ApiError(
        'forbidden',
        `You cannot allow an app scopes you do not hold: ${beyond.join(', ')}.`,
        {
          extra: { scopes: beyond },
        },
      );
    return [...asked];
  }
  const base = current ?? catalogue.allScopes;
  const kept = base.filter((s) => ceiling.includes(s));
  if (current === null && kept.length === catalogue.allScopes.length) return null;
  return kept;
}

/**
 * `/api/v1/oauth/clients`: OAuth apps an org admin makes — public or confidential, with allowed
 * scopes; the secret is shown once and rotatable; deleting an app revokes every token issued to it.
 */
export function appRoutes(app: App, deps: Deps & { catalogue: Catalogue }): void {
  const { db, clock, catalogue } = deps;
  const cfg = { auth: 'org', permission: 'oauth:manage' } as const;

  const load = async (orgId: string, id: string) => {
    const row = await db
      .selectFrom('oauth_clients')
      .selectAll()
      .where('id', '=', id)
      .where('org_id', '=', orgId)
      .where('kind', '=', 'app')
      .executeTakeFirst();
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
      const meta = validated(catalogue, {
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
        .send({ ...shape(client, who.actor, secret?.secret), ...rpRegistrationFields(rp) });
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
      let q = db
        .selectFrom('oauth_clients')
        .selectAll()
        .where('org_id', '=', org.id)
        .where('kind', '=', 'app');
      if (after) {
        q = q.where((eb) =>
          eb.or([
            eb('created_at', '<', after.at),
            eb.and([eb('created_at', '=', after.at), eb('id', '<', after.id)]),
          ]),
        );
      }
      const rows = await q
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit + 1)
        .execute();
      const p = page(rows, limit, (r) => ({ at: r.created_at, id: r.id }));
      return {
        data: p.data.map((r) => ({
          ...shape(toClient(r), r.created_by),
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
        ...shape(toClient(row), row.created_by),
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
      const meta = validated(catalogue, {
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
        await trx
          .updateTable('oauth_clients')
          .set({
            name: meta.name,
            redirect_uris: JSON.stringify(meta.redirectUris),
            scopes: meta.scopes ? JSON.stringify(meta.scopes) : null,
            grant_types: JSON.stringify(meta.grantTypes),
            updated_at: now,
          })
          .where('id', '=', row.id)
          .execute();
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
      return { ...shape(updated, row.created_by), ...rpRegistrationFields(rp) };
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
        await trx
          .updateTable('oauth_clients')
          .set({ secret_hash: secret.hash, updated_at: clock.now() })
          .where('id', '=', row.id)
          .execute();
        await audit(trx, clock, actorOf(req), {
          orgId: org.id,
          action: 'oauth.client_secret_rotated',
          target: `client:${row.id}`,
          data: { client_id: row.id },
        });
      });
      await deps.auth.changed({ client: row.id });
      return shape(toClient(row), row.created_by, secret.secret);
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
        await trx.deleteFrom('oauth_clients').where('id', '=', row.id).execute();
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
