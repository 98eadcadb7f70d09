import { Type } from 'typebox';
import type { Deps } from '../deps.js';
import { Email } from '../http/shapes.js';
import type { App } from '../http/types.js';
import { emailOrThrow } from './input.js';
import { accountLimiters } from './limits.js';
import { RESET_REQUESTED, requestPasswordReset } from './password-reset.js';

/**
 * `POST /api/auth/password-reset`: mails a link (valid 30 minutes, usable once) that opens the
 * `/reset-password` form. Answers 202 with the same body whether or not the account exists;
 * throttled per IP (429) and, silently, per address.
 */
export function passwordResetRoutes(app: App, deps: Deps): void {
  const limits = accountLimiters(deps.cache);
  app.post(
    '/api/auth/password-reset',
    {
      config: { auth: 'none' },
      schema: {
        tags: ['auth'],
        summary: 'Ask for a password reset link by email',
        body: Type.Object({ email: Email }, { additionalProperties: false }),
        response: { 202: Type.Object({ status: Type.Literal('sent'), detail: Type.String() }) },
      },
    },
    async (req, reply) => {
      const email = emailOrThrow(req.body.email);
      await requestPasswordReset(deps, limits, { email, ip: req.ip, log: req.log });
      return reply.code(202).send({ status: 'sent', detail: RESET_REQUESTED });
    },
  );
}
