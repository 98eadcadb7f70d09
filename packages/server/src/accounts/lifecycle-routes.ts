import { Type } from 'typebox';
import type { Deps } from '../deps.js';
import { ApiError } from '../errors.js';
import { actorOf, clearSessionCookie, principalOf, userOf } from '../http/request.js';
import type { App } from '../http/types.js';
import { deleteAccount } from './deletion.js';
import { ExportShape, exportAccount } from './export.js';
import { normalizeEmail } from '../lib/email.js';
import { requireStepUp } from './step-up.js';

/**
 * A person's own data: `GET /api/v1/me/export` (everything held about them, as JSON) and
 * `DELETE /api/v1/me` (the account, from a browser session only).
 */
export function lifecycleRoutes(app: App, deps: Deps): void {
  const { db, clock, config } = deps;

  app.get(
    '/api/v1/me/export',
    {
      config: { auth: 'user', scope: 'account:write' },
      schema: {
        tags: ['me'],
        summary: 'Everything Latchkey holds about you, as JSON (token metadata, never secrets or hashes)',
        response: { 200: ExportShape },
      },
    },
    async (req, reply) => {
      const user = userOf(req);
      const day = clock.now().toISOString().slice(0, 10);
      reply.header('content-disposition', `attachment; filename="latchkey-export-${day}.json"`);
      return exportAccount(db, clock, user.id);
    },
  );

  app.delete(
    '/api/v1/me',
    {
      config: { auth: 'user', credentials: ['session'] },
      schema: {
        tags: ['me'],
        summary:
          'Delete your account: refused while you are the last owner of an org with other members; ends every credential',
        body: Type.Object(
          {
            confirm: Type.String({ maxLength: 254, description: 'The account’s email address, typed again' }),
          },
          { additionalProperties: false },
        ),
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      const user = userOf(req);
      if (normalizeEmail(req.body.confirm) !== user.email)
        throw new ApiError('invalid_request', 'Type the account’s email address in confirm to delete it.');
      // A recent second factor, when the account has one.
      await requireStepUp(deps, principalOf(req));
      const done = await db.transaction().execute((trx) => deleteAccount(trx, clock, actorOf(req), user.id));
      if (!done) throw new ApiError('not_found', 'No such account.');
      await deps.auth.changed({ user: done.userId });
      for (const h of done.hashes) await deps.auth.changed({ token: h });
      for (const org of done.orgs) await deps.auth.changed({ org });
      clearSessionCookie(reply, config);
      return reply.code(204).send(null);
    },
  );
}
