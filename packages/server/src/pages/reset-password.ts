import { Type } from 'typebox';
import { proofChanges } from '../accounts/email-proof.js';
import {
  checkPassword,
  hashPassword,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  PASSWORD_PROBLEM_TEXT,
} from '../accounts/passwords.js';
import {
  findLiveReset,
  passwordChangedEmail,
  RESET_PASSWORD_PATH,
  resetPassword,
} from '../accounts/password-reset.js';
import type { Deps } from '../deps.js';
import { actorOf, clearSessionCookie } from '../http/request.js';
import type { App } from '../http/types.js';
import { escapeHtml } from '../mail/templates.js';
import { FORGOT_PASSWORD_PATH } from './forgot-password.js';
import { page } from '../http/html.js';

const Token = Type.String({ minLength: 1, maxLength: 200 });

const EXPIRED = `This reset link is invalid, expired or already used. <a href="${FORGOT_PASSWORD_PATH}">Ask for a new one</a>.`;

function resetPage(token: string, error?: string): string {
  return page(
    'Choose a new password',
    `${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${RESET_PASSWORD_PATH}"><input type="hidden" name="token" value="${escapeHtml(token)}">
<label for="password">New password (at least ${PASSWORD_MIN_LENGTH} characters)</label><input id="password" name="password" type="password" autocomplete="new-password" required minlength="${PASSWORD_MIN_LENGTH}" maxlength="${PASSWORD_MAX_LENGTH}">
<label for="password_confirm">Repeat it</label><input id="password_confirm" name="password_confirm" type="password" autocomplete="new-password" required minlength="${PASSWORD_MIN_LENGTH}" maxlength="${PASSWORD_MAX_LENGTH}">
<button type="submit">Set the new password</button>
</form>
<p class="muted">Setting it signs you out everywhere and revokes your personal access tokens.</p>`,
  );
}

/**
 * `/reset-password?token=…`: the page a reset link opens. GET shows the form and changes nothing
 * (a mail scanner that fetches the link does not use it up); POST checks the password policy,
 * then uses the link once, sets the password, ends every session and personal token, and mails
 * the person that it happened. The token travels in the form body, never logged.
 */
export function resetPasswordRoutes(app: App, deps: Deps): void {
  const { db, clock, config } = deps;

  app.get(
    RESET_PASSWORD_PATH,
    {
      config: { auth: 'none' },
      schema: { hide: true, querystring: Type.Object({ token: Token }, { additionalProperties: false }) },
    },
    async (req, reply) => {
      reply.type('text/html; charset=utf-8');
      if (!(await findLiveReset(db, clock, req.query.token)))
        return reply.code(400).send(page('Link expired', `<p>${EXPIRED}</p>`));
      return reply.send(resetPage(req.query.token));
    },
  );

  app.post(
    RESET_PASSWORD_PATH,
    {
      config: { auth: 'none' },
      schema: {
        hide: true,
        body: Type.Object(
          {
            token: Token,
            password: Type.String({ maxLength: PASSWORD_MAX_LENGTH }),
            password_confirm: Type.String({ maxLength: PASSWORD_MAX_LENGTH }),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      reply.type('text/html; charset=utf-8');
      const { token, password } = req.body;
      const expired = () => reply.code(400).send(page('Link expired', `<p>${EXPIRED}</p>`));
      // Bad input changes nothing: the link stays usable for a second try.
      if (!(await findLiveReset(db, clock, token))) return expired();
      const problem = checkPassword(password);
      if (problem) return reply.code(400).send(resetPage(token, PASSWORD_PROBLEM_TEXT[problem]));
      if (password !== req.body.password_confirm)
        return reply.code(400).send(resetPage(token, 'The two passwords differ.'));
      const hash = await hashPassword(password);
      const done = await db
        .transaction()
        .execute((trx) => resetPassword(trx, clock, actorOf(req), token, hash));
      if (!done) return expired();
      await deps.auth.changed({ user: done.userId });
      for (const h of done.ended.hashes) await deps.auth.changed({ token: h });
      for (const change of proofChanges(done.proof)) await deps.auth.changed(change);
      try {
        await deps.mailer.send(passwordChangedEmail(done.email, 'reset'));
      } catch (err) {
        req.log.error({ err: (err as Error).message }, 'sending the password-changed notice failed');
      }
      // This browser's session (if any) ended with the others.
      clearSessionCookie(reply, config);
      return reply.send(
        page(
          'Password changed',
          `<p role="status">Your password is changed. Every session was signed out.</p>
<p><a href="/login">Sign in</a></p>`,
        ),
      );
    },
  );
}
