import { Type } from 'typebox';
import { audit } from '../audit/log.js';
import type { Deps } from '../deps.js';
import { bearerToken } from '../auth/principal.js';
import { ApiError } from '../errors.js';
import type { App } from '../http/types.js';
import { safeEqual } from '../lib/secrets.js';
import { tokenLeakEmail } from '../mail/templates.js';
import { hashToken, parseToken } from './format.js';
import { findLiveToken, revokeToken } from './queries.js';

export const LEAK_REPORT_MAX_ITEMS = 100;

type LeakStatus = 'revoked' | 'already_inactive' | 'not_a_latchkey_token';

/**
 * `POST /api/v1/token-leaks`: a secret scanner reports tokens it found in public. Each live
 * Latchkey token is revoked at once, its owner is emailed and the revocation audited. The answer
 * says per token what happened, never whose it was.
 */
export function leakRoutes(app: App, deps: Deps): void {
  const { db, clock, config } = deps;

  app.post(
    '/api/v1/token-leaks',
    {
      // The scanner authenticates with its own key below; no session or token tier applies.
      config: { auth: 'none', csrf: false },
      schema: {
        tags: ['tokens'],
        body: Type.Array(
          Type.Object(
            {
              token: Type.String({ minLength: 1, maxLength: 200 }),
              url: Type.Optional(Type.String({ maxLength: 2000 })),
            },
            { additionalProperties: false },
          ),
          { minItems: 1, maxItems: LEAK_REPORT_MAX_ITEMS },
        ),
        response: {
          200: Type.Object({
            results: Type.Array(Type.Object({ status: Type.String(), prefix: Type.Optional(Type.String()) })),
          }),
        },
      },
    },
    async (req) => {
      const key = bearerToken(req);
      if (!config.tokenScannerKey || !key || !safeEqual(key, config.tokenScannerKey)) {
        throw new ApiError('unauthorized', 'A token scanner key is required.', {
          headers: { 'www-authenticate': 'Bearer realm="latchkey-token-scanner"' },
        });
      }
      const results: { status: LeakStatus; prefix?: string }[] = [];
      for (const item of req.body) {
        const parsed = parseToken(item.token, config.tokenPrefix);
        if (!parsed) {
          results.push({ status: 'not_a_latchkey_token' });
          continue;
        }
        results.push({
          status: await revokeLeaked(item.token, parsed.display, item.url ?? null),
          prefix: parsed.display,
        });
      }
      return { results };

      async function revokeLeaked(token: string, prefix: string, url: string | null): Promise<LeakStatus> {
        const hash = hashToken(token);
        const live = await findLiveToken(db, clock, hash);
        if (!live) return 'already_inactive';
        const done = await db.transaction().execute(async (trx) => {
          const r = await revokeToken(trx, clock, live.id, 'leaked');
          if (!r) return null;
          await audit(
            trx,
            clock,
            { actor: 'token-scanner', ip: req.ip, userAgent: req.headers['user-agent'] ?? null },
            {
              orgId: live.org_id,
              action: 'token.leak_revoked',
              target: `token:${live.id}`,
              data: { prefix, kind: live.kind, url },
            },
          );
          return r;
        });
        if (!done) return 'already_inactive';
        for (const d of done.all) await deps.auth.changed({ token: d.token_hash });
        for (const to of await recipients(live)) {
          await deps.mailer
            .send(tokenLeakEmail({ to, prefix, name: null, url }))
            .catch((err: Error) =>
              req.log.error({ err: err.message }, 'could not email the owner of a leaked token'),
            );
        }
        return 'revoked';
      }
    },
  );

  /** Who hears about a leak: a PAT's person; for org-bound tokens the minting person, else the org's owners. */
  async function recipients(t: {
    id: string;
    user_email: string | null;
    org_id: string | null;
  }): Promise<string[]> {
    if (t.user_email) return [t.user_email];
    const creator = await db
      .selectFrom('api_tokens')
      .innerJoin('users', 'users.id', 'api_tokens.created_by_user')
      .select('users.email')
      .where('api_tokens.id', '=', t.id)
      .executeTakeFirst();
    if (creator) return [creator.email];
    if (!t.org_id) return [];
    const owners = await db
      .selectFrom('memberships')
      .innerJoin('users', 'users.id', 'memberships.user_id')
      .select('users.email')
      .where('memberships.org_id', '=', t.org_id)
      .where('memberships.role', '=', 'owner')
      .limit(20)
      .execute();
    return owners.map((o) => o.email);
  }
}
