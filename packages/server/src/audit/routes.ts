import { Type } from 'typebox';
import type { Deps } from '../deps.js';
import { ApiError } from '../errors.js';
import { decodeCursor, PageOf, PageQuery, page } from '../http/pagination.js';
import { orgOf } from '../http/request.js';
import { Timestamp } from '../http/shapes.js';
import type { App } from '../http/types.js';
import { auditEventsOf } from './queries.js';

const Event = Type.Object({
  id: Type.String(),
  org_id: Type.Union([Type.String(), Type.Null()]),
  actor: Type.String(),
  action: Type.String(),
  target: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
  data: Type.Record(Type.String(), Type.Unknown()),
});

/** `GET /api/v1/audit`: the org's events, newest first, filterable, cursor-paginated. */
export function auditRoutes(app: App, deps: Deps): void {
  app.get(
    '/api/v1/audit',
    {
      config: { auth: 'org', permission: 'audit:read' },
      schema: {
        tags: ['audit'],
        querystring: Type.Object(
          {
            ...PageQuery,
            action: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            actor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            target: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            since: Type.Optional(Type.String({ format: 'date-time' })),
            until: Type.Optional(Type.String({ format: 'date-time' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(Event) },
      },
    },
    async (req) => {
      const org = orgOf(req);
      const { action, actor, target, since, until } = req.query;
      const limit = req.query.limit ?? 50;
      const after = decodeCursor(req.query.cursor);
      const sinceAt = since ? new Date(since) : null;
      const untilAt = until ? new Date(until) : null;
      if (sinceAt && untilAt && sinceAt > untilAt)
        throw new ApiError('invalid_request', 'since must not be after until.');
      const rows = await auditEventsOf(deps.db, org.id, {
        filter: { action, actor, target, since: sinceAt, until: untilAt },
        limit,
        after,
      });
      const p = page(rows, limit, (r) => ({ at: r.created_at, id: r.id }));
      return {
        data: p.data.map((r) => ({
          id: r.id,
          org_id: r.org_id,
          actor: r.actor,
          action: r.action,
          target: r.target,
          ip: r.ip,
          user_agent: r.user_agent,
          created_at: r.created_at.toISOString(),
          data: (typeof r.data === 'string' ? JSON.parse(r.data) : r.data) as Record<string, unknown>,
        })),
        next_cursor: p.next_cursor,
      };
    },
  );
}
