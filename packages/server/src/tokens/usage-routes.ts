import { Type } from 'typebox';
import type { Deps } from '../deps.js';
import type { CredentialKind } from '../auth/principal.js';
import { ApiError } from '../errors.js';
import { orgOf } from '../http/request.js';
import { IdParams } from '../http/shapes.js';
import type { App } from '../http/types.js';
import { findToken, tokenLastUse } from './queries.js';
import { tokenUsage, USAGE_KEPT_DAYS, type UsageCounter, usageCounter } from './usage.js';

/** The credentials whose requests are counted per token: Latchkey API tokens. */
const COUNTED = new Set<CredentialKind>(['pat', 'svc', 'org', 'svc_agent']);

const COUNTERS = new WeakMap<object, UsageCounter>();

/** The app's usage counter (tests flush it rather than wait for the timer). */
export function usageCounterOf(app: App): UsageCounter | undefined {
  return COUNTERS.get(app);
}

const Usage = Type.Object({
  token_id: Type.String(),
  prefix: Type.String(),
  last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  total: Type.Integer(),
  days: Type.Array(Type.Object({ day: Type.String(), requests: Type.Integer() })),
});

/**
 * Per-key usage: every request an API token authenticates is counted once it has been answered
 * (off the request path, written in batches), and `GET /api/v1/org/tokens/:id/usage` gives an org
 * key's requests per UTC day over the last `days` days (default 30, at most 90).
 */
export function usageRoutes(app: App, deps: Deps): void {
  const { db, clock } = deps;
  const counter = usageCounter({ db, clock, log: app.log });
  COUNTERS.set(app, counter);
  app.addHook('onResponse', (req, _reply, done) => {
    const p = req.principal;
    if (p?.tokenId && COUNTED.has(p.kind)) counter.count(p.tokenId);
    done();
  });
  app.addHook('onClose', async () => counter.stop());

  app.get(
    '/api/v1/org/tokens/:id/usage',
    {
      config: { auth: 'org', permission: 'tokens:manage' },
      schema: {
        tags: ['tokens'],
        summary: "An org key's requests per day (UTC), oldest first",
        params: IdParams,
        querystring: Type.Object(
          { days: Type.Optional(Type.Integer({ minimum: 1, maximum: USAGE_KEPT_DAYS })) },
          { additionalProperties: false },
        ),
        response: { 200: Usage },
      },
    },
    async (req) => {
      const org = orgOf(req);
      const t = await findToken(db, req.params.id);
      if (t?.kind !== 'org' || t.org_id !== org.id) throw new ApiError('not_found', 'No such token.');
      const days = await tokenUsage(db, clock, t.id, req.query.days ?? 30);
      const row = await tokenLastUse(db, t.id);
      return {
        token_id: t.id,
        prefix: row.prefix,
        last_used_at: row.last_used_at?.toISOString() ?? null,
        total: days.reduce((n, d) => n + d.requests, 0),
        days,
      };
    },
  );
}
