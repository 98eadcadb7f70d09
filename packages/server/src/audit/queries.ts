import { sql } from 'kysely';
import type { Executor } from '../db/executor.js';
import type { Cursor } from '../http/pagination.js';

/** What `GET /api/v1/audit` filters on; an action ending in ".*" names a family (e.g. "member.*"). */
export interface AuditFilter {
  action: string | undefined;
  actor: string | undefined;
  target: string | undefined;
  since: Date | null;
  until: Date | null;
}

/** One page of the org's events, newest first: up to `limit + 1` rows after the cursor. */
export async function auditEventsOf(
  db: Executor,
  orgId: string,
  opts: { filter: AuditFilter; limit: number; after: Cursor | null },
) {
  const { action, actor, target, since: sinceAt, until: untilAt } = opts.filter;
  const { limit, after } = opts;
  type Query = ReturnType<typeof base>;
  const base = () => db.selectFrom('audit_events').selectAll().where('org_id', '=', orgId);
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
      with recursive family(action) as (${familyActions(orgId, action.slice(0, -2), actor)})
      select p.* from family cross join lateral (${part}) p
       where family.action is not null
       order by p.created_at desc, p.id desc
       limit ${limit + 1}`.execute(db);
    rows = found.rows;
  } else {
    rows = await filtered(
      action ? base().where(sql<string>`action collate "C"`, '=', action) : base(),
    ).execute();
  }
  return rows;
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
