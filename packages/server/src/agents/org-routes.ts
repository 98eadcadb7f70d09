import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ApiError } from '../errors.js';
import { decodeCursor, PageOf, PageQuery, page } from '../http/pagination.js';
import { actorOf, orgOf, principalOf } from '../http/request.js';
import { IdParams } from '../http/shapes.js';
import type { App } from '../http/types.js';
import type { AgentDeps } from './deps.js';
import { roleAllows } from '../orgs/roles.js';
import { type Access, type Decision, decide, mayDecide } from './decide.js';
import { emailVerified, findAgent, listOrgAgents, listOverseenAgents } from './queries.js';
import { agentRights } from './rights.js';
import { AgentShape, agentShape } from './shapes.js';

/** The org a request names with x-org-id, or the one its credential is bound to; null otherwise. */
export function namedOrg(req: FastifyRequest) {
  const p = principalOf(req);
  return p.boundOrg || req.headers['x-org-id'] !== undefined ? req.org : null;
}

/** An access refusal on the wire. */
export function refusal(a: Exclude<Access, { ok: true }>): ApiError {
  switch (a.reason) {
    case 'not_found':
      return new ApiError('not_found', 'No such agent.');
    case 'unverified':
      return new ApiError(
        'forbidden',
        'Confirm your email address first: sign in with a magic link sent to it, then try again.',
      );
    case 'forbidden':
      return new ApiError('forbidden', a.detail);
  }
}

/**
 * The org's agents, for the dashboard: `GET /api/v1/org/agents` (admin+), and approve, deny and
 * revoke, which an org admin or the agent's human overseer may do. The overseer of a pending agent
 * is not a member of its org yet, so these three take a person's credential without an org; named
 * with x-org-id, they act in that org with its role rules.
 */
export function orgAgentRoutes(app: App, deps: AgentDeps): void {
  const { db, config, catalogue } = deps;
  const shapeOf = (a: Parameters<typeof agentShape>[0]) =>
    agentShape(a, agentRights(config.agentPlans, catalogue, a.status));

  app.get(
    '/api/v1/org/agents',
    {
      config: { auth: 'org', permission: 'tokens:manage' },
      schema: {
        tags: ['agents'],
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: PageOf(AgentShape) },
      },
    },
    async (req) => {
      const org = orgOf(req);
      const limit = req.query.limit ?? 50;
      const rows = await listOrgAgents(db, org.id, limit, decodeCursor(req.query.cursor));
      const p = page(rows, limit, (r) => ({ at: r.created_at, id: r.id }));
      return { data: p.data.map(shapeOf), next_cursor: p.next_cursor };
    },
  );

  /**
   * Every agent the caller oversees, across orgs: a person sees the agents of every org they own
   * or administer and those that named their (proven) address; an org-bound credential sees its
   * org's, when its role manages tokens. Each agent signup makes its own org, so this is where a
   * person finds all of theirs at once.
   */
  app.get(
    '/api/v1/agents',
    {
      config: { auth: 'user', permission: 'tokens:manage' },
      schema: {
        tags: ['agents'],
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: PageOf(AgentShape) },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const limit = req.query.limit ?? 50;
      const after = decodeCursor(req.query.cursor);
      let rows: (Parameters<typeof agentShape>[0] & { org_name?: string })[] = [];
      if (p.user) {
        const proven = await emailVerified(db, p.user.id);
        rows = await listOverseenAgents(
          db,
          { userId: p.user.id, email: proven ? p.user.email : null },
          limit,
          after,
        );
      } else if (p.boundOrg && roleAllows(p.boundOrg.role, 'tokens:manage')) {
        rows = await listOrgAgents(db, p.boundOrg.id, limit, after);
      }
      const pg = page(rows, limit, (r) => ({ at: r.created_at, id: r.id }));
      return {
        data: pg.data.map((r) => ({ ...shapeOf(r), ...(r.org_name ? { org_name: r.org_name } : {}) })),
        next_cursor: pg.next_cursor,
      };
    },
  );

  const act = async (req: FastifyRequest, id: string, decision: Decision) => {
    const agent = await findAgent(db, id);
    if (!agent) throw new ApiError('not_found', 'No such agent.');
    const access = await mayDecide(deps, principalOf(req), namedOrg(req), agent);
    if (!access.ok) throw refusal(access);
    const out = await decide(deps, actorOf(req), id, decision);
    if (out.ok) return out.agent;
    if (out.reason === 'not_found') throw new ApiError('not_found', 'No such agent.');
    throw new ApiError(
      'conflict',
      decision === 'revoke' ? 'This agent is already revoked or denied.' : 'This agent is no longer pending.',
      { extra: { agent_status: agent.status } },
    );
  };

  for (const decision of ['approve', 'deny'] as const) {
    app.post(
      `/api/v1/org/agents/:id/${decision}`,
      {
        config: { auth: 'user', permission: 'tokens:manage' },
        schema: { tags: ['agents'], params: IdParams, response: { 200: AgentShape } },
      },
      async (req) => shapeOf(await act(req, req.params.id, decision)),
    );
  }

  app.delete(
    '/api/v1/org/agents/:id',
    {
      config: { auth: 'user', permission: 'tokens:manage' },
      schema: { tags: ['agents'], params: IdParams, response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      await act(req, req.params.id, 'revoke');
      return reply.code(204).send(null);
    },
  );
}
