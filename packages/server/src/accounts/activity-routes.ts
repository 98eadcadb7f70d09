import { Type } from 'typebox';
import type { Deps } from '../deps.js';
import { decodeCursor, encodeCursor, PageOf, PageQuery } from '../http/pagination.js';
import { userOf } from '../http/request.js';
import { Timestamp } from '../http/shapes.js';
import type { App } from '../http/types.js';
import { listActivity } from './activity.js';

const NullableString = Type.Union([Type.String(), Type.Null()]);

const ActivityEventShape = Type.Object({
  id: Type.String(),
  action: Type.String(),
  created_at: Timestamp,
  org: Type.Union([Type.Object({ id: Type.String(), name: NullableString }), Type.Null()]),
  actor: Type.Object({
    kind: Type.Union([
      Type.Literal('you'),
      Type.Literal('person'),
      Type.Literal('credential'),
      Type.Literal('anonymous'),
      Type.Literal('system'),
    ]),
    name: NullableString,
  }),
  ip: NullableString,
  device: NullableString,
  details: Type.Record(Type.String(), Type.Unknown()),
});

/**
 * `GET /api/v1/me/activity`: the caller's own activity log — sign-ins and failed sign-ins,
 * sessions, tokens, password and email changes, orgs joined, SSO links — newest first,
 * cursor-paginated like `/api/v1/audit`. Only events about the caller's account, ever.
 */
export function activityRoutes(app: App, deps: Deps): void {
  app.get(
    '/api/v1/me/activity',
    {
      config: { auth: 'user', scope: 'account:read' },
      schema: {
        tags: ['me'],
        querystring: Type.Object(
          { ...PageQuery, since: Type.Optional(Type.String({ format: 'date-time' })) },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(ActivityEventShape) },
      },
    },
    async (req) => {
      const user = userOf(req);
      const limit = req.query.limit ?? 50;
      const rows = await listActivity(deps.db, user.id, {
        limit,
        after: decodeCursor(req.query.cursor),
        since: req.query.since ? new Date(req.query.since) : null,
      });
      const more = rows.length > limit;
      const shown = more ? rows.slice(0, limit) : rows;
      const last = shown.at(-1);
      return {
        data: shown.map((r) => r.event),
        next_cursor: more && last ? encodeCursor(last.cursor) : null,
      };
    },
  );
}
