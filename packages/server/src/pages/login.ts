import { Type } from 'typebox';
import { passwordSignIn } from '../accounts/password-signin.js';
import { PASSWORD_MAX_LENGTH } from '../accounts/passwords.js';
import type { Deps } from '../deps.js';
import { ApiError } from '../http/errors.js';
import { actorOf, safeReturnTo, setSessionCookie } from '../http/request.js';
import type { App } from '../http/types.js';
import { escapeHtml } from '../mail/templates.js';
import { page, pageCsp } from './render.js';

const LoginForm = Type.Object(
  {
    email: Type.String({ maxLength: 254 }),
    password: Type.String({ maxLength: PASSWORD_MAX_LENGTH }),
    return_to: Type.Optional(Type.String({ maxLength: 4000 })),
  },
  { additionalProperties: false },
);

function loginPage(returnTo: string | null, error?: string, email = ''): string {
  const rt = returnTo ? `<input type="hidden" name="return_to" value="${escapeHtml(returnTo)}">` : '';
  return page(
    'Sign in',
    `${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/login">
${rt}
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email" required value="${escapeHtml(email)}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<p class="muted">No password? Ask for a sign-in link with <code>POST /api/auth/magic-link</code>.</p>`,
  );
}

/**
 * Where a sign-in that returns to `returnTo` may end: when it resumes an authorisation request,
 * that request's redirect URI (a remembered consent sends the browser straight on to the client).
 */
function formRedirects(returnTo: string | null): string[] {
  if (!returnTo) return [];
  const u = new URL(returnTo, 'http://latchkey.invalid');
  const redirectUri = u.pathname === '/api/oauth/authorize' ? u.searchParams.get('redirect_uri') : null;
  return redirectUri ? [redirectUri] : [];
}

/**
 * `/login`: the sign-in form for browsers, without JavaScript. `return_to` must be a path on this
 * server (anything else is dropped, so the page cannot be used as an open redirect).
 */
export function loginRoutes(app: App, deps: Deps): void {
  app.get(
    '/login',
    {
      config: { auth: 'optional' },
      schema: {
        hide: true,
        querystring: Type.Object({ return_to: Type.Optional(Type.String({ maxLength: 4000 })) }),
      },
    },
    async (req, reply) => {
      const returnTo = safeReturnTo(req.query.return_to);
      if (req.principal?.kind === 'session') return reply.redirect(returnTo ?? '/', 303);
      return reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', pageCsp(formRedirects(returnTo)))
        .send(loginPage(returnTo));
    },
  );

  app.post(
    '/login',
    { config: { auth: 'optional' }, schema: { hide: true, body: LoginForm } },
    async (req, reply) => {
      const returnTo = safeReturnTo(req.body.return_to);
      const previous = req.principal?.kind === 'session' ? req.principal : null;
      try {
        const out = await passwordSignIn(
          deps,
          { ...actorOf(req), ip: req.ip },
          {
            email: req.body.email,
            password: req.body.password,
            previous:
              previous?.user && previous.sessionId
                ? { userId: previous.user.id, sessionId: previous.sessionId }
                : null,
          },
        );
        setSessionCookie(reply, deps.config, out.token);
        return reply.redirect(returnTo ?? '/', 303);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        for (const [k, v] of Object.entries(err.options.headers ?? {})) reply.header(k, v);
        return reply
          .code(err.status)
          .type('text/html; charset=utf-8')
          .header('content-security-policy', pageCsp(formRedirects(returnTo)))
          .send(loginPage(returnTo, err.detail ?? 'Sign-in failed.', req.body.email.slice(0, 254)));
      }
    },
  );
}
