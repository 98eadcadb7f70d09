import formbody from '@fastify/formbody';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { Deps } from '../deps.js';
import { ApiError } from '../errors.js';
import { actorOf, principalOf, userOf } from '../http/request.js';
import { Email } from '../http/shapes.js';
import type { App } from '../http/types.js';
import { confirmPage, PAGE_CSP, renderMessage } from '../http/html.js';
import { maskEmail } from '../lib/email.js';
import { proofChanges } from './email-proof.js';
import {
  CONFIRM_EMAIL_PATH,
  completeEmailChange,
  emailChangedNotice,
  emailChangeEmail,
  findLiveEmailChange,
  startEmailChange,
} from './email-change.js';
import { emailOrThrow, limit } from './input.js';
import { accountLimiters } from './limits.js';
import { requireStepUp } from './step-up.js';

const Token = Type.String({ minLength: 1, maxLength: 200 });
const EXPIRED = 'This link is invalid, expired or already used. Ask for the change again from your account.';

function html(reply: FastifyReply, status: number, body: string) {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('content-security-policy', PAGE_CSP)
    .send(body);
}

/**
 * Changing the account's email: `POST /api/v1/me/email` (a browser session only: the current
 * sign-in) mails a link to the new address; the link opens `/confirm-email`, whose one button
 * makes the change and tells the old address. Until then nothing changes.
 */
export function emailChangeRoutes(app: App, deps: Deps): void {
  const { db, clock, config } = deps;
  const limits = accountLimiters(deps.cache);

  app.post(
    '/api/v1/me/email',
    {
      config: { auth: 'user', credentials: ['session'] },
      schema: {
        tags: ['me'],
        summary: 'Change the account’s email: mails a link to the new address, which makes the change',
        body: Type.Object({ email: Email }, { additionalProperties: false }),
        response: { 202: Type.Object({ status: Type.Literal('sent'), detail: Type.String() }) },
      },
    },
    async (req, reply) => {
      const user = userOf(req);
      const email = emailOrThrow(req.body.email);
      // A recent second factor, when the account has one.
      await requireStepUp(deps, principalOf(req));
      await limit(limits.emailChangesPerUser, user.id);
      const token = await startEmailChange(db, clock, actorOf(req), user, email);
      try {
        await deps.mailer.send(
          emailChangeEmail(email, `${config.publicUrl}${CONFIRM_EMAIL_PATH}?token=${token}`),
        );
      } catch (err) {
        req.log.error({ err: (err as Error).message }, 'sending an email change link failed');
        throw new ApiError('unavailable', 'The confirmation could not be sent; try again later.');
      }
      return reply.code(202).send({
        status: 'sent',
        detail: 'A link is on its way to the new address. The change is made when it is used.',
      });
    },
  );

  // The link's page and its button: form posts, in a scope of their own with the form parser.
  void app.register(async (scope) => {
    await scope.register(formbody, { bodyLimit: 16 * 1024 });
    const pages = scope as unknown as App;

    pages.get(
      CONFIRM_EMAIL_PATH,
      {
        config: { auth: 'none' },
        schema: { hide: true, querystring: Type.Object({ token: Token }, { additionalProperties: false }) },
      },
      async (req, reply) => {
        const link = await findLiveEmailChange(db, clock, req.query.token);
        if (!link) return html(reply, 400, renderMessage('Link expired', EXPIRED));
        return html(
          reply,
          200,
          confirmPage({
            title: 'Use this email address?',
            text: [
              `This makes ${link.new_email} the email address of the Latchkey account that now uses ${maskEmail(link.old_email)}.`,
            ],
            action: CONFIRM_EMAIL_PATH,
            fields: { token: req.query.token },
            button: 'Use this address',
          }),
        );
      },
    );

    pages.post(
      CONFIRM_EMAIL_PATH,
      {
        config: { auth: 'optional', credentials: ['session'] },
        schema: { hide: true, body: Type.Object({ token: Token }, { additionalProperties: false }) },
      },
      async (req, reply) => {
        const holder = req.principal?.kind === 'session' ? (req.principal.user?.id ?? null) : null;
        let done;
        try {
          done = await db
            .transaction()
            .execute((trx) =>
              completeEmailChange(trx, clock, actorOf(req), req.body.token, { holderUserId: holder }),
            );
        } catch (err) {
          if (err instanceof ApiError && err.code === 'email_taken')
            return html(reply, 409, renderMessage('Address taken', `${err.detail} Nothing changed.`));
          throw err;
        }
        if (!done) return html(reply, 400, renderMessage('Link expired', EXPIRED));
        await deps.auth.changed({ user: done.userId });
        for (const change of proofChanges(done.proof)) await deps.auth.changed(change);
        try {
          await deps.mailer.send(emailChangedNotice(done.oldEmail, done.newEmail));
        } catch (err) {
          req.log.error({ err: (err as Error).message }, 'sending the email-changed notice failed');
        }
        return html(
          reply,
          200,
          renderMessage('Email address changed', `Your account now uses ${done.newEmail}.`),
        );
      },
    );
  });
}
