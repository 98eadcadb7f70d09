import { Type } from 'typebox';
import { accountLimiters } from '../accounts/limits.js';
import { RESET_REQUESTED, requestPasswordReset } from '../accounts/password-reset.js';
import { isValidEmail, normalizeEmail } from '../lib/email.js';
import type { Deps } from '../deps.js';
import { ApiError } from '../errors.js';
import { checkReturnTo } from '../http/request.js';
import type { App } from '../http/types.js';
import { escapeHtml } from '../mail/templates.js';
import { page } from '../http/html.js';

export const FORGOT_PASSWORD_PATH = '/forgot-password';

const Form = Type.Object(
  {
    email: Type.String({ maxLength: 254 }),
    return_to: Type.Optional(Type.String({ maxLength: 4000 })),
  },
  { additionalProperties: false },
);

function backToLogin(returnTo: string | null): string {
  const q = returnTo ? `?return_to=${encodeURIComponent(returnTo)}` : '';
  return `<p><a href="/login${escapeHtml(q)}">Back to sign-in</a></p>`;
}

function forgotPage(returnTo: string | null, opts: { error?: string; email?: string } = {}): string {
  const rt = returnTo ? `<input type="hidden" name="return_to" value="${escapeHtml(returnTo)}">` : '';
  return page(
    'Forgot your password?',
    `${opts.error ? `<p class="error" role="alert">${escapeHtml(opts.error)}</p>` : ''}
<p>Enter the email address of your account. We will mail you a link to choose a new password.</p>
<form method="post" action="${FORGOT_PASSWORD_PATH}">${rt}
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email" required value="${escapeHtml(opts.email ?? '')}">
<button type="submit">Email me a reset link</button>
</form>
${backToLogin(returnTo)}`,
  );
}

/**
 * `/forgot-password`: asks for a reset link by email, without JavaScript. The answer is the same
 * whether or not an account uses the address; requests are throttled per IP and per address.
 */
export function forgotPasswordRoutes(app: App, deps: Deps): void {
  const limits = accountLimiters(deps.cache);

  app.get(
    FORGOT_PASSWORD_PATH,
    {
      config: { auth: 'none' },
      schema: {
        hide: true,
        querystring: Type.Object({ return_to: Type.Optional(Type.String({ maxLength: 4000 })) }),
      },
    },
    async (req, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .send(forgotPage(checkReturnTo(req.query.return_to, deps.config.publicUrl))),
  );

  app.post(
    FORGOT_PASSWORD_PATH,
    { config: { auth: 'none' }, schema: { hide: true, body: Form } },
    async (req, reply) => {
      const returnTo = checkReturnTo(req.body.return_to, deps.config.publicUrl);
      const email = normalizeEmail(req.body.email);
      reply.type('text/html; charset=utf-8');
      if (!isValidEmail(email))
        return reply
          .code(400)
          .send(forgotPage(returnTo, { error: 'The email address is not valid.', email: req.body.email }));
      try {
        await requestPasswordReset(deps, limits, { email, ip: req.ip, log: req.log });
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        for (const [k, v] of Object.entries(err.options.headers ?? {})) reply.header(k, v);
        return reply
          .code(err.status)
          .send(forgotPage(returnTo, { error: err.detail ?? 'Try again later.', email }));
      }
      return reply.send(
        page(
          'Check your email',
          `<p role="status">${escapeHtml(RESET_REQUESTED)}</p>
${backToLogin(returnTo)}`,
        ),
      );
    },
  );
}
