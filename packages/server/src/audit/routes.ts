import { sql } from 'kysely';
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
      // An action filter ending in ".*" matches the family (e.g. "member.*"): the newest page of
      // each action of the family, merged, so every part walks the (org, action, time) index.
      const family = action?.endsWith('.*') ? await familyActions(deps, org.id, action.slice(0, -2)) : null;
      if (family && family.length === 0) rows = [];
      else if (family && family.length <= FAMILY_MERGE_MAX) {
        const parts = family.map((a, i) =>
          deps.db
            .selectFrom(filtered(base().where(sql<string>`action collate "C"`, '=', a)).as(`p${i}`))
            .selectAll(),
        );
        const merged = parts.slice(1).reduce((u, p) => u.unionAll(p), parts[0]!);
        rows = await deps.db
          .selectFrom(merged.as('merged'))
          .selectAll()
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .limit(limit + 1)
          .execute();
      } else if (action?.endsWith('.*')) {
        rows = await filtered(
          base().where('action', 'like', `${action.slice(0, -2).replace(/[\\%_]/g, '\\$&')}.%`),
        ).execute();
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

/** A family with more actions than this is read with one LIKE scan instead of a merge. */
const FAMILY_MERGE_MAX = 64;

/**
 * The distinct actions an org's log holds under `prefix.` (e.g. member.added, member.removed), read
 * by skipping through the (org, action, time) index: one index probe per action, not per event.
 * Actions compare bytewise (collation "C", as the index is built), so a family is one range.
 */
async function familyActions(deps: Pick<Deps, 'db'>, orgId: string, prefix: string): Promise<string[]> {
  const lo = `${prefix}.`;
  const hi = `${prefix}/`; // '/' follows '.': every action starting "prefix." sorts in [lo, hi)
  const { rows } = await sql<{ action: string }>`
    with recursive family(action) as (
      (select action from audit_events
        where org_id = ${orgId} and action collate "C" >= ${lo} and action collate "C" < ${hi}
        order by action collate "C" limit 1)
      union all
      select (select e.action from audit_events e
               where e.org_id = ${orgId} and e.action collate "C" > family.action
                 and e.action collate "C" < ${hi}
               order by e.action collate "C" limit 1)
        from family where family.action is not null
    )
    select action from family where action is not null limit ${FAMILY_MERGE_MAX + 1}`.execute(deps.db);
  return rows.map((r) => r.action);
}
