import { Type } from 'typebox';
import { isUniqueViolation } from '../../db/errors.js';
import { audit } from '../../audit/log.js';
import { ApiError } from '../../errors.js';
import { actorOf, orgOf, principalOf } from '../../http/request.js';
import { IdParams, Timestamp } from '../../http/shapes.js';
import type { App } from '../../http/types.js';
import { newId } from '../../lib/secrets.js';
import { requireVerifiedEmail } from '../../tokens/mint.js';
import {
  type ApprovalRow,
  approvalById,
  approvalsOf,
  deleteApproval,
  insertApproval,
} from '../store/approvals.js';
import { findClient } from '../store/clients.js';
import { OAuthError } from '../errors.js';
import type { OAuthDeps } from '../grants/types.js';
import { noContent } from '../../http/schemas/responses.js';

/** Approvals listed per org: an org approves a handful of clients. */
export const APPROVALS_LIST_MAX = 500;

const Approval = Type.Object({
  id: Type.String(),
  client_id: Type.String(),
  client_name: Type.String(),
  client_kind: Type.String(),
  approved_by: Type.String(),
  created_at: Timestamp,
});
const ApprovalList = Type.Object({ data: Type.Array(Approval) });
const CreateBody = Type.Object(
  { client_id: Type.String({ minLength: 1, maxLength: 2000 }) },
  { additionalProperties: false },
);

const shape = (r: ApprovalRow) => ({
  id: r.id,
  client_id: r.client_id,
  client_name: r.client_name,
  client_kind: r.kind,
  approved_by: r.approved_by,
  created_at: r.created_at.toISOString(),
});

/**
 * `/api/v1/org/oauth/approved-clients`: the clients an org admin approved for the org. Its members
 * then skip the consent screen for a request whose scopes are all ordinary (not high-risk). A
 * client may be the org's own app, a registered client, or a metadata document client (fetched
 * when first named). Another org's app cannot be approved. Every change is audited.
 */
export function approvalRoutes(app: App, deps: OAuthDeps): void {
  const { db, clock } = deps;
  const cfg = { auth: 'org', permission: 'oauth:manage' } as const;

  app.get(
    '/api/v1/org/oauth/approved-clients',
    { config: cfg, schema: { tags: ['oauth apps'], response: { 200: ApprovalList } } },
    async (req) => {
      const rows = await approvalsOf(db, orgOf(req).id, APPROVALS_LIST_MAX);
      return { data: rows.map(shape) };
    },
  );

  app.post(
    '/api/v1/org/oauth/approved-clients',
    { config: cfg, schema: { tags: ['oauth apps'], body: CreateBody, response: { 201: Approval } } },
    async (req, reply) => {
      const org = orgOf(req);
      requireVerifiedEmail(principalOf(req));
      let client;
      try {
        client = await findClient(deps, req.body.client_id, { fresh: true });
      } catch (err) {
        if (err instanceof OAuthError) throw new ApiError('invalid_request', err.description);
        throw err;
      }
      // Another org's app is not this org's to approve: it cannot act here anyway.
      if (!client || (client.kind === 'app' && client.orgId !== org.id))
        throw new ApiError('not_found', 'No such OAuth client.');
      const who = actorOf(req);
      const id = newId();
      try {
        await db.transaction().execute(async (trx) => {
          await insertApproval(
            trx,
            { id, orgId: org.id, clientId: client.id, approvedBy: who.actor },
            clock.now(),
          );
          await audit(trx, clock, who, {
            orgId: org.id,
            action: 'oauth.client_approved',
            target: `client:${client.id}`,
            data: { client_id: client.id, name: client.name, kind: client.kind, approval_id: id },
          });
        });
      } catch (err) {
        if (isUniqueViolation(err))
          throw new ApiError('conflict', 'The client is already approved for this organisation.');
        throw err;
      }
      const row = await approvalById(db, id);
      return reply.code(201).send(shape(row));
    },
  );

  app.delete(
    '/api/v1/org/oauth/approved-clients/:id',
    {
      config: cfg,
      schema: { tags: ['oauth apps'], params: IdParams, response: { 204: noContent('Approval withdrawn.') } },
    },
    async (req, reply) => {
      const org = orgOf(req);
      const done = await db.transaction().execute(async (trx) => {
        const row = await deleteApproval(trx, org.id, req.params.id);
        if (!row) return false;
        await audit(trx, clock, actorOf(req), {
          orgId: org.id,
          action: 'oauth.client_approval_revoked',
          target: `client:${row.client_id}`,
          data: { client_id: row.client_id, approval_id: row.id },
        });
        return true;
      });
      if (!done) throw new ApiError('not_found', 'No such approval.');
      return reply.code(204).send();
    },
  );
}
