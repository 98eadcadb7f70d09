import { Type } from 'typebox';
import type { Deps } from '../deps.js';
import { ApiError } from '../http/errors.js';
import { decodeCursor, PageOf, PageQuery, page } from '../http/pagination.js';
import { orgOf } from '../http/request.js';
import { Timestamp } from '../http/shapes.js';
import type { App } from '../http/types.js';

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
      const { action, actor, since, until } = req.query;
      const limit = req.query.limit ?? 50;
      const after = decodeCursor(req.query.cursor);
      const sinceAt = since ? new Date(since) : null;
      const untilAt = until ? new Date(until) : null;
      if (sinceAt && untilAt && sinceAt > untilAt)
        throw new ApiError('invalid_request', 'since must not be after until.');
      let q = deps.db.selectFrom('audit_events').selectAll().where('org_id', '=', org.id);
      // An action filter ending in ".*" matches the family (e.g. "member.*").
      if (action)
        q = action.endsWith('.*')
          ? q.where('action', 'like', `${action.slice(0, -2).replace(/[\\%_]/g, '\\$&')}.%`)
          : q.where('action', '=', action);
      if (actor) q = q.where('actor', '=', actor);
      if (sinceAt) q = q.where('created_at', '>=', sinceAt);
      if (untilAt) q = q.where('created_at', '<', untilAt);
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
