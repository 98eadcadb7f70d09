import { Type } from 'typebox';
import { accountLimiters } from '../accounts/limits.js';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../accounts/passwords.js';
import { passwordSignup } from '../accounts/password-signup.js';
import { readSignupPolicy } from '../accounts/signup-policy.js';
import { NAME_MAX } from '../lib/names.js';
import { WAITLISTED } from '../accounts/input.js';
import type { Deps } from '../deps.js';
import { ApiError } from '../errors.js';
import { actorOf, checkReturnTo, setSessionCookie } from '../http/request.js';
import type { App } from '../http/types.js';
import { escapeHtml } from '../mail/templates.js';
import { CREATE_ACCOUNT_PATH } from './login.js';
import { page, renderMessage } from '../http/html.js';

const Form = Type.Object(
  {
    name: Type.String({ maxLength: NAME_MAX }),
    email: Type.String({ maxLength: 254 }),
    password: Type.String({ maxLength: PASSWORD_MAX_LENGTH }),
    return_to: Type.Optional(Type.String({ maxLength: 4000 })),
  },
  { additionalProperties: false },
);

const CLOSED =
  'New accounts on this server are by invitation only. Ask an organisation to invite you, then use the link in the invitation email.';

function createPage(returnTo: string | null, opts: { error?: string; name?: string; email?: string } = {}) {
  const rt = returnTo ? `<input type="hidden" name="return_to" value="${escapeHtml(returnTo)}">` : '';
  const q = returnTo ? `?return_to=${encodeURIComponent(returnTo)}` : '';
  return page(
    'Create your account',
    `${opts.error ? `<p class="error" role="alert">${escapeHtml(opts.error)}</p>` : ''}
<form method="post" action="${CREATE_ACCOUNT_PATH}">${rt}
<label for="name">Your name</label><input id="name" name="name" autocomplete="name" required maxlength="${NAME_MAX}" value="${escapeHtml(opts.name ?? '')}">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email" required value="${escapeHtml(opts.email ?? '')}">
<label for="password">Password (at least ${PASSWORD_MIN_LENGTH} characters)</label><input id="password" name="password" type="password" autocomplete="new-password" required minlength="${PASSWORD_MIN_LENGTH}" maxlength="${PASSWORD_MAX_LENGTH}">
<button type="submit">Create account</button>
</form>
<p class="muted">We mail you a link to prove the address. Have an account? <a href="/login${escapeHtml(q)}">Sign in</a>.</p>`,
  );
}

/**
 * `/create-account`: the server-rendered sign-up the sign-in page's "Create account" leads to,
 * offered unless sign-ups are by invitation only. It creates the account as `POST
 * /api/auth/signup` does (or records a waitlist request), signs the browser in and goes on to
 * `return_to`.
 */
export function createAccountRoutes(app: App, deps: Deps): void {
  const limits = accountLimiters(deps.cache);
  const closed = async () => (await readSignupPolicy(deps.db)).policy === 'invite-only';

  app.get(
    CREATE_ACCOUNT_PATH,
    {
      config: { auth: 'none' },
      schema: {
        hide: true,
        querystring: Type.Object({ return_to: Type.Optional(Type.String({ maxLength: 4000 })) }),
      },
    },
    async (req, reply) => {
      reply.type('text/html; charset=utf-8');
      if (await closed()) return reply.code(403).send(renderMessage('Sign-ups are by invitation', CLOSED));
      return reply.send(createPage(checkReturnTo(req.query.return_to, deps.config.publicUrl)));
    },
  );

  app.post(
    CREATE_ACCOUNT_PATH,
    { config: { auth: 'none' }, schema: { hide: true, body: Form } },
    async (req, reply) => {
      reply.type('text/html; charset=utf-8');
      const returnTo = checkReturnTo(req.body.return_to, deps.config.publicUrl);
      try {
        const out = await passwordSignup(
          deps,
          limits,
          { ...actorOf(req), ip: req.ip },
          { email: req.body.email, name: req.body.name, password: req.body.password },
          req.log,
        );
        if (out.kind === 'waitlisted')
          return reply.code(202).send(renderMessage('You are on the waitlist', WAITLISTED));
        setSessionCookie(reply, deps.config, out.token);
        return reply.redirect(returnTo ?? '/', 303);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        for (const [k, v] of Object.entries(err.options.headers ?? {})) reply.header(k, v);
        if (err.code === 'signup_closed')
          return reply.code(403).send(renderMessage('Sign-ups are by invitation', CLOSED));
        return reply.code(err.status).send(
          createPage(returnTo, {
            error: err.detail ?? 'The account could not be created.',
            name: req.body.name,
            email: req.body.email,
          }),
        );
      }
    },
  );
}
