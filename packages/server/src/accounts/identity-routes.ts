import { Type } from 'typebox';
import type { Deps } from '../deps.js';
import { ApiError } from '../errors.js';
import { actorOf, userOf } from '../http/request.js';
import { IdParams, Timestamp } from '../http/shapes.js';
import type { App } from '../http/types.js';
import { listIdentities, unlinkIdentity } from './identities.js';
import { passwordHashOf } from './queries.js';

const Identity = Type.Object({
  id: Type.String(),
  provider: Type.Union([Type.Literal('github'), Type.Literal('google')]),
  email: Type.Union([Type.String(), Type.Null()]),
  email_verified: Type.Boolean(),
  created_at: Timestamp,
});

/** `/api/v1/me/identities`: the GitHub and Google accounts that sign you in; link them with `/api/auth/oauth/{provider}/link`. */
export function identityRoutes(app: App, deps: Deps): void {
  const { db, clock } = deps;

  app.get(
    '/api/v1/me/identities',
    {
      config: { auth: 'user', scope: 'account:write' },
      schema: {
        tags: ['me'],
        response: {
          200: Type.Object({
            data: Type.Array(Identity),
            next_cursor: Type.Null(),
            has_password: Type.Boolean(),
          }),
        },
      },
    },
    async (req) => {
      const user = userOf(req);
      const [rows, row] = await Promise.all([listIdentities(db, user.id), passwordHashOf(db, user.id)]);
      return {
        data: rows.map((r) => ({
          id: r.id,
          provider: r.provider,
          email: r.email,
          email_verified: r.email_verified,
          created_at: r.created_at.toISOString(),
        })),
        next_cursor: null,
        has_password: row?.password_hash != null,
      };
    },
  );

  app.delete(
    '/api/v1/me/identities/:id',
    {
      config: { auth: 'user', scope: 'account:write' },
      schema: { tags: ['me'], params: IdParams, response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      const user = userOf(req);
      const out = await db
        .transaction()
        .execute((trx) => unlinkIdentity(trx, clock, actorOf(req), user.id, req.params.id));
      if (!out.ok) {
        if (out.reason === 'last') {
          throw new ApiError(
            'last_sign_in_method',
            'This is your only way to sign in: set a password or link another account first.',
          );
        }
        throw new ApiError('not_found', 'No such linked account.');
      }
      return reply.code(204).send(null);
    },
  );
}
