import { Type } from 'typebox';
import type { Deps } from '../../deps.js';
import { ApiError } from '../../errors.js';
import { actorOf, orgOf, userOf } from '../../http/request.js';
import { IdParams, Timestamp } from '../../http/shapes.js';
import type { App } from '../../http/types.js';
import {
  everyGrantOfUser,
  grantOfOrg,
  grantOfUser,
  grantsOfOrg,
  grantsOfUser,
  type LiveGrantRow,
  revokeGrant,
} from '../store/consents.js';
import { scopesOf } from '../store/tokens.js';
import { noContent } from '../../http/schemas/responses.js';

/** Grants listed at most per request: a person or org rarely has more; no pagination needed below it. */
export const GRANTS_LIST_MAX = 500;

const Grant = Type.Object({
  id: Type.String(),
  client_id: Type.String(),
  client_name: Type.String(),
  org_id: Type.String(),
  org_name: Type.String(),
  user_id: Type.String(),
  resource: Type.String(),
  scopes: Type.Array(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
});
const GrantList = Type.Object({ data: Type.Array(Grant) });

function shape(r: LiveGrantRow) {
  return {
    id: r.id,
    client_id: r.client_id,
    client_name: r.client_name,
    org_id: r.org_id,
    org_name: r.org_name,
    user_id: r.user_id,
    resource: r.resource,
    scopes: scopesOf(r.scopes),
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}

/**
 * The apps a person has authorised (`/api/v1/me/grants`, in every org) and, for admins, the
 * org's grants (`/api/v1/org/grants`). Revoking a grant revokes its tokens at once.
 */
export function consentManagementRoutes(app: App, deps: Deps): void {
  const { db, clock } = deps;

  const revoke = async (
    req: Parameters<typeof actorOf>[0],
    row: { id: string; org_id: string; client_id: string; user_id: string },
  ) => {
    const hashes = await db.transaction().execute((trx) =>
      revokeGrant(trx, clock, actorOf(req), {
        id: row.id,
        orgId: row.org_id,
        clientId: row.client_id,
        userId: row.user_id,
      }),
    );
    for (const h of hashes ?? []) await deps.auth.changed({ token: h });
  };

  app.get(
    '/api/v1/me/grants',
    {
      config: { auth: 'user', scope: 'account:write' },
      schema: { tags: ['grants'], response: { 200: GrantList } },
    },
    async (req) => {
      const user = userOf(req);
      const rows = await grantsOfUser(db, user.id, GRANTS_LIST_MAX);
      return { data: rows.map(shape) };
    },
  );

  app.delete(
    '/api/v1/me/grants/:id',
    {
      config: { auth: 'user', scope: 'account:write' },
      schema: { tags: ['grants'], params: IdParams, response: { 204: noContent('Consent withdrawn.') } },
    },
    async (req, reply) => {
      const user = userOf(req);
      const row = await grantOfUser(db, user.id, req.params.id);
      if (!row) throw new ApiError('not_found', 'No such grant.');
      await revoke(req, row);
      return reply.code(204).send();
    },
  );

  /** Signs the person out of every app at once: every live grant, in every org, and its tokens. */
  app.delete(
    '/api/v1/me/grants',
    {
      config: { auth: 'user', scope: 'account:write' },
      schema: {
        tags: ['grants'],
        response: { 200: Type.Object({ revoked: Type.Integer() }) },
      },
    },
    async (req) => {
      const user = userOf(req);
      const rows = await everyGrantOfUser(db, user.id);
      const hashes = await db.transaction().execute(async (trx) => {
        const out: string[] = [];
        for (const row of rows) {
          const h = await revokeGrant(trx, clock, actorOf(req), {
            id: row.id,
            orgId: row.org_id,
            clientId: row.client_id,
            userId: row.user_id,
          });
          out.push(...(h ?? []));
        }
        return out;
      });
      for (const h of hashes) await deps.auth.changed({ token: h });
      return { revoked: rows.length };
    },
  );

  app.get(
    '/api/v1/org/grants',
    {
      config: { auth: 'org', permission: 'oauth:manage' },
      schema: { tags: ['grants'], response: { 200: GrantList } },
    },
    async (req) => {
      const org = orgOf(req);
      const rows = await grantsOfOrg(db, org.id, GRANTS_LIST_MAX);
      return { data: rows.map(shape) };
    },
  );

  app.delete(
    '/api/v1/org/grants/:id',
    {
      config: { auth: 'org', permission: 'oauth:manage' },
      schema: { tags: ['grants'], params: IdParams, response: { 204: noContent('Consent withdrawn.') } },
    },
    async (req, reply) => {
      const org = orgOf(req);
      const row = await grantOfOrg(db, org.id, req.params.id);
      if (!row) throw new ApiError('not_found', 'No such grant.');
      await revoke(req, row);
      return reply.code(204).send();
    },
  );
}
