import { sql } from 'kysely';
import { Type } from 'typebox';
import type { Deps } from '../deps.js';
import { ApiError } from '../errors.js';
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
      type Query = ReturnType<typeof base>;
      const base = () => deps.db.selectFrom('audit_events').selectAll().where('org_id', '=', org.id);
      /** Every filter but the action's; each query then reads (org, …, time) in index order. */
      const filtered = (q: Query): Query => {
        if (actor) q = q.where('actor', '=', actor);
        if (target) q = q.where('target', '=', target);
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
        return q
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .limit(limit + 1);
      };
      let rows: Awaited<ReturnType<Query['execute']>>;
      if (action?.endsWith('.*')) {
        // An action filter ending in ".*" matches the family (e.g. "member.*"): one statement finds
        // the family's actions by skipping through the index (only the actor's, when filtered by
        // actor) and reads the newest page of each, every part in (…, action, time) index order.
        const part = filtered(base().where(sql<boolean>`action collate "C" = family.action`));
        const found = await sql<(typeof rows)[number]>`
          with recursive family(action) as (${familyActions(org.id, action.slice(0, -2), actor)})
          select p.* from family cross join lateral (${part}) p
           where family.action is not null
           order by p.created_at desc, p.id desc
           limit ${limit + 1}`.execute(deps.db);
        rows = found.rows;
      } else {
        rows = await filtered(
          action ? base().where(sql<string>`action collate "C"`, '=', action) : base(),
        ).execute();
      }
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

/**
 * The recursive part of a family query: the distinct actions an org's log holds under `prefix.`
 * (e.g. member.added, member.removed), one index probe per action, not per event; with an actor,
 * only the actions that actor did, through the (org, actor, action, time) index. Actions compare
 * bytewise (collation "C", as the indexes are built), so a family is one range. Actions are
 * Latchkey's own names, a handful per family, so the merge reads a handful of short index ranges.
 */
function familyActions(orgId: string, prefix: string, actor: string | undefined) {
  const lo = `${prefix}.`;
  const hi = `${prefix}/`; // '/' follows '.': every action starting "prefix." sorts in [lo, hi)
  const byActor = actor === undefined ? sql`` : sql`and actor = ${actor}`;
  const order = actor === undefined ? sql`action collate "C"` : sql`actor, action collate "C"`;
  return sql`
    (select action from audit_events
      where org_id = ${orgId} ${byActor} and action collate "C" >= ${lo} and action collate "C" < ${hi}
      order by ${order} limit 1)
    union all
    select (select action from audit_events
             where org_id = ${orgId} ${byActor} and action collate "C" > family.action
               and action collate "C" < ${hi}
             order by ${order} limit 1)
      from family where family.action is not null`;
}
