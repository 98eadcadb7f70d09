import { Type } from 'typebox';
import type { Deps } from '../deps.js';
import { ApiError } from '../errors.js';
import { actorOf, principalOf, userOf } from '../http/request.js';
import { OrgShape } from '../http/shapes.js';
import type { App } from '../http/types.js';
import { acceptInvitation, ssoOrgOfCaller } from './accept.js';

/** `/api/v1/invitations/accept`: the signed-in person joins the org whose invitation they hold. */
export function joiningRoutes(app: App, deps: Deps): void {
  const { db, clock } = deps;

  app.post(
    '/api/v1/invitations/accept',
    {
      config: { auth: 'user', scope: 'account:write' },
      schema: {
        tags: ['invitations'],
        body: Type.Object(
          { token: Type.String({ minLength: 1, maxLength: 200 }) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ org: OrgShape }) },
      },
    },
    async (req) => {
      const user = userOf(req);
      const ssoOrgId = await ssoOrgOfCaller(db, clock, principalOf(req));
      // Throws `sso_required` (with `org` and `sso_url`) when the org enforces SSO over this person
      // and the caller is not a session its IdP opened; nothing is written then.
      const out = await db
        .transaction()
        .execute((trx) =>
          acceptInvitation(trx, clock, actorOf(req), { token: req.body.token, user, ssoOrgId }),
        );
      if (out.ok) {
        await deps.auth.changed({ user: user.id });
        return { org: out.org };
      }
      switch (out.reason) {
        case 'invalid':
          throw new ApiError('invalid_token', 'The invitation is invalid, expired or already used.');
        case 'wrong_email':
          throw new ApiError('forbidden', 'This invitation was sent to another email address.');
        case 'already_member':
          throw new ApiError('conflict', 'You are already a member of this organisation.');
      }
    },
  );
}
