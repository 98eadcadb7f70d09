import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import {
  addBlock,
  type Block,
  listBlockedAttempts,
  listBlocks,
  normaliseBlockValue,
  removeBlock,
} from '../agents/blocks.js';
import { liftSuspension, listSuspensions, suspendAgentOrg } from '../agents/controls.js';
import { BLOCK_REASON_MAX } from '../agents/limits.js';
import type { AgentBlockKind } from '../db/schema/agents.js';
import type { Deps } from '../deps.js';
import { ApiError } from '../errors.js';
import { decodeCursor, PageOf, PageQuery, page } from '../http/pagination.js';
import { actorOf, principalOf } from '../http/request.js';
import { IdParams, Timestamp } from '../http/shapes.js';
import type { App } from '../http/types.js';
import { requireInstanceAdmin } from '../auth/instance-admin.js';
import { orgName } from './queries.js';

const OrNull = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Kind = Type.Union([Type.Literal('ip'), Type.Literal('email_domain'), Type.Literal('org')]);
const Reason = Type.Optional(Type.String({ maxLength: BLOCK_REASON_MAX }));

const BlockShape = Type.Object({
  id: Type.String(),
  kind: Kind,
  value: Type.String(),
  reason: OrNull(Type.String()),
  created_by: Type.String(),
  created_at: Timestamp,
});

const AttemptShape = Type.Object({
  id: Type.String(),
  block_id: OrNull(Type.String()),
  reason: Type.String(),
  ip: Type.String(),
  email_domain: Type.String(),
  org_id: OrNull(Type.String()),
  created_at: Timestamp,
});

const SuspensionShape = Type.Object({
  org_id: Type.String(),
  org_name: OrNull(Type.String()),
  reason: OrNull(Type.String()),
  created_by: Type.String(),
  created_at: Timestamp,
});

const blockShape = (b: Block) => ({
  id: b.id,
  kind: b.kind,
  value: b.value,
  reason: b.reason,
  created_by: b.created_by,
  created_at: b.created_at.toISOString(),
});

const HELP: Record<AgentBlockKind, string> = {
  ip: 'an IP address or CIDR range (at most /8 for IPv4, /16 for IPv6)',
  email_domain: 'a domain name (example.com blocks it and its subdomains)',
  org: 'an organisation id',
};

/** An empty POST body is an empty object. */
async function emptyBodyIsObject(req: FastifyRequest) {
  if (req.body === undefined) req.body = {};
}

/**
 * `/api/v1/admin/agent-*`: operator controls over agent self-signup. Instance admins only (a
 * session, or ADMIN_TOKEN): block a client IP range, an overseer email domain or an org from
 * agent signup, see the signups refused, and suspend an agent's org (its keys revoked at once).
 */
export function adminAgentRoutes(app: App, deps: Deps): void {
  const { db, clock } = deps;
  const admin = (req: FastifyRequest) => requireInstanceAdmin(db, principalOf(req));
  const operator = { auth: 'user', credentials: ['session', 'admin-token'] } as const;

  app.get(
    '/api/v1/admin/agent-blocks',
    {
      config: operator,
      schema: { tags: ['admin'], response: { 200: Type.Object({ data: Type.Array(BlockShape) }) } },
    },
    async (req) => {
      await admin(req);
      return { data: (await listBlocks(db)).map(blockShape) };
    },
  );

  app.post(
    '/api/v1/admin/agent-blocks',
    {
      config: operator,
      schema: {
        tags: ['admin'],
        summary: 'Block an IP range, an email domain or an org from agent signup',
        body: Type.Object(
          { kind: Kind, value: Type.String({ minLength: 1, maxLength: 255 }), reason: Reason },
          { additionalProperties: false },
        ),
        response: { 201: BlockShape },
      },
    },
    async (req, reply) => {
      await admin(req);
      const value = normaliseBlockValue(req.body.kind, req.body.value);
      if (!value) throw new ApiError('invalid_request', `value must be ${HELP[req.body.kind]}.`);
      const out = await db.transaction().execute((trx) =>
        addBlock(trx, clock, actorOf(req), {
          kind: req.body.kind,
          value,
          reason: req.body.reason?.trim() || null,
        }),
      );
      if (!out.ok) {
        if (out.reason === 'exists') throw new ApiError('conflict', 'This block exists already.');
        throw new ApiError('not_found', 'No such organisation.');
      }
      return reply.code(201).send(blockShape(out.block));
    },
  );

  app.delete(
    '/api/v1/admin/agent-blocks/:id',
    {
      config: operator,
      schema: { tags: ['admin'], params: IdParams, response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      await admin(req);
      const done = await db
        .transaction()
        .execute((trx) => removeBlock(trx, clock, actorOf(req), req.params.id));
      if (!done) throw new ApiError('not_found', 'No such block.');
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/admin/agent-blocked-attempts',
    {
      config: operator,
      schema: {
        tags: ['admin'],
        summary: 'Agent signups a block refused, newest first (kept 90 days)',
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: PageOf(AttemptShape) },
      },
    },
    async (req) => {
      await admin(req);
      const limit = req.query.limit ?? 50;
      const rows = await listBlockedAttempts(db, limit, decodeCursor(req.query.cursor));
      const p = page(rows, limit, (r) => ({ at: r.created_at, id: r.id }));
      return {
        data: p.data.map((r) => ({
          id: r.id,
          block_id: r.block_id,
          reason: r.reason,
          ip: r.ip,
          email_domain: r.email_domain,
          org_id: r.org_id,
          created_at: r.created_at.toISOString(),
        })),
        next_cursor: p.next_cursor,
      };
    },
  );

  app.get(
    '/api/v1/admin/agent-suspensions',
    {
      config: operator,
      schema: { tags: ['admin'], response: { 200: Type.Object({ data: Type.Array(SuspensionShape) }) } },
    },
    async (req) => {
      await admin(req);
      return {
        data: (await listSuspensions(db)).map((s) => ({
          org_id: s.org_id,
          org_name: s.org_name,
          reason: s.reason,
          created_by: s.created_by,
          created_at: s.created_at.toISOString(),
        })),
      };
    },
  );

  app.post(
    '/api/v1/admin/agent-orgs/:id/suspend',
    {
      config: operator,
      preValidation: emptyBodyIsObject,
      schema: {
        tags: ['admin'],
        summary: "Suspend an agent's org: every key bound to it is revoked at once, its agents end",
        params: IdParams,
        body: Type.Object({ reason: Reason }, { additionalProperties: false }),
        response: { 201: SuspensionShape },
      },
    },
    async (req, reply) => {
      await admin(req);
      const reason = req.body.reason?.trim() || null;
      const out = await db
        .transaction()
        .execute((trx) => suspendAgentOrg(trx, clock, actorOf(req), req.params.id, reason));
      if (!out.ok) {
        if (out.reason === 'already_suspended')
          throw new ApiError('conflict', 'This org is suspended already.');
        throw new ApiError('not_found', 'No org an agent signed up has this id.');
      }
      for (const h of out.revokedHashes) await deps.auth.changed({ token: h });
      const org = await orgName(db, req.params.id);
      return reply.code(201).send({
        org_id: out.suspension.org_id,
        org_name: org?.name ?? null,
        reason: out.suspension.reason,
        created_by: out.suspension.created_by,
        created_at: out.suspension.created_at.toISOString(),
      });
    },
  );

  app.delete(
    '/api/v1/admin/agent-orgs/:id/suspend',
    {
      config: operator,
      schema: {
        tags: ['admin'],
        summary: 'Lift a suspension (revoked keys stay revoked)',
        params: IdParams,
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      await admin(req);
      const done = await db
        .transaction()
        .execute((trx) => liftSuspension(trx, clock, actorOf(req), req.params.id));
      if (!done) throw new ApiError('not_found', 'This org is not suspended.');
      return reply.code(204).send(null);
    },
  );
}
