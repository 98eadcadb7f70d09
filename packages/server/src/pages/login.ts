import { Type } from 'typebox';
import { DEVICE_COOKIE, DEVICE_TTL_MS } from '../accounts/devices.js';
import { passwordSignIn } from '../accounts/password-signin.js';
import { PASSWORD_MAX_LENGTH } from '../accounts/passwords.js';
import type { ProviderId, SocialErrorCode } from '../accounts/social/provider.js';
import { enabledProviderIds, isProviderId, PROVIDER_NAMES } from '../accounts/social/registry.js';
import type { Deps } from '../deps.js';
import { ApiError } from '../http/errors.js';
import { actorOf, checkReturnTo, setHostCookie, setSessionCookie } from '../http/request.js';
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

/**
 * What a failed GitHub / Google sign-in says, by the code the callback put in `?error=`. The
 * query's own text is never shown: an unknown code gets the generic message.
 */
const SOCIAL_MESSAGES: Record<SocialErrorCode, (provider: string) => string> = {
  access_denied: (p) => `Sign-in with ${p} was cancelled.`,
  bad_state: (p) =>
    `The sign-in with ${p} expired or was not started from this browser. Start again from this page.`,
  provider_unreachable: (p) => `${p} could not be reached. Try again in a moment.`,
  provider_error: (p) => `${p} did not complete the sign-in. Try again, or sign in another way.`,
  email_unverified: (p) =>
    `Your ${p} account has no verified email address, so it cannot sign you in here. Verify the address at ${p}, or sign in another way and link ${p} from your account settings.`,
  identity_taken: (p) => `This ${p} account is already linked to another account.`,
  already_linked: (p) => `Your account already has a ${p} account linked; unlink it first.`,
  signup_closed: () =>
    'New accounts on this server are by invitation only. Ask an organisation to invite you, then use the link in the invitation email.',
  waitlisted: () =>
    'Thanks: new accounts need an operator’s approval. Your request is on the waitlist, and you will get an email when it is approved.',
  provider_disabled: (p) => `Sign-in with ${p} is not enabled on this server.`,
  try_again: (p) => `Something changed while signing in with ${p}. Try again.`,
};

function socialMessage(error: string | undefined, provider: string | undefined) {
  if (!error) return null;
  const name = isProviderId(provider) ? PROVIDER_NAMES[provider] : 'the provider';
  const say = Object.hasOwn(SOCIAL_MESSAGES, error) ? SOCIAL_MESSAGES[error as SocialErrorCode] : null;
  return {
    text: say ? say(name) : 'Sign-in failed. Try again.',
    notice: error === 'waitlisted',
  };
}

function providerButtons(providers: readonly ProviderId[], returnTo: string | null): string {
  if (providers.length === 0) return '';
  const q = returnTo ? `?return_to=${encodeURIComponent(returnTo)}` : '';
  const links = providers
    .map(
      (id) =>
        `<p><a href="/api/auth/oauth/${id}/start${escapeHtml(q)}" style="display:block;text-align:center;padding:.6rem 1rem;border:1px solid var(--border);border-radius:6px;text-decoration:none">Sign in with ${PROVIDER_NAMES[id]}</a></p>`,
    )
    .join('\n');
  return `${links}\n<p class="muted" style="text-align:center">or</p>`;
}

function loginPage(
  returnTo: string | null,
  opts: { error?: string; notice?: string; email?: string; providers?: readonly ProviderId[] } = {},
): string {
  const rt = returnTo ? `<input type="hidden" name="return_to" value="${escapeHtml(returnTo)}">` : '';
  const email = opts.email ?? '';
  return page(
    'Sign in',
    `${opts.error ? `<p class="error" role="alert">${escapeHtml(opts.error)}</p>` : ''}
${opts.notice ? `<p role="status">${escapeHtml(opts.notice)}</p>` : ''}
${providerButtons(opts.providers ?? [], returnTo)}
<form method="post" action="/login">
${rt}
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email" required value="${escapeHtml(email)}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<p class="muted">No password? Ask for a sign-in link with <code>POST /api/auth/magic-link</code>.</p>
<form method="get" action="/api/sso/start">
${rt}<input type="hidden" name="form" value="1">
<label for="sso-email">Single sign-on: your work email</label><input id="sso-email" name="email" type="email" autocomplete="email" required value="${escapeHtml(email)}">
<button type="submit">Continue with SSO</button>
</form>`,
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
      config: { auth: 'optional', credentials: ['session'] },
      schema: {
        hide: true,
        querystring: Type.Object({
          return_to: Type.Optional(Type.String({ maxLength: 4000 })),
          error: Type.Optional(Type.String({ maxLength: 100 })),
          provider: Type.Optional(Type.String({ maxLength: 100 })),
        }),
      },
    },
    async (req, reply) => {
      const returnTo = checkReturnTo(req.query.return_to, deps.config.publicUrl);
      const said = socialMessage(req.query.error, req.query.provider);
      if (req.principal?.kind === 'session') {
        if (!said) return reply.redirect(returnTo ?? '/', 303);
        // A signed-in person whose linking failed: say why, and lead back.
        return reply
          .type('text/html; charset=utf-8')
          .send(
            page(
              'Linking did not complete',
              `<p ${said.notice ? 'role="status"' : 'class="error" role="alert"'}>${escapeHtml(said.text)}</p><p><a href="${escapeHtml(returnTo ?? '/')}">Continue</a></p>`,
            ),
          );
      }
      return reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', pageCsp(formRedirects(returnTo)))
        .send(
          loginPage(returnTo, {
            ...(said ? { [said.notice ? 'notice' : 'error']: said.text } : {}),
            providers: enabledProviderIds(deps.config),
          }),
        );
    },
  );

  app.post(
    '/login',
    { config: { auth: 'optional', credentials: ['session'] }, schema: { hide: true, body: LoginForm } },
    async (req, reply) => {
      const returnTo = checkReturnTo(req.body.return_to, deps.config.publicUrl);
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
            device: req.cookies[DEVICE_COOKIE],
          },
        );
        setSessionCookie(reply, deps.config, out.token);
        setHostCookie(reply, deps.config, {
          name: DEVICE_COOKIE,
          value: out.device,
          maxAgeSeconds: DEVICE_TTL_MS / 1000,
        });
        return reply.redirect(returnTo ?? '/', 303);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        for (const [k, v] of Object.entries(err.options.headers ?? {})) reply.header(k, v);
        return reply
          .code(err.status)
          .type('text/html; charset=utf-8')
          .header('content-security-policy', pageCsp(formRedirects(returnTo)))
          .send(
            loginPage(returnTo, {
              error: err.detail ?? 'Sign-in failed.',
              email: req.body.email.slice(0, 254),
              providers: enabledProviderIds(deps.config),
            }),
          );
      }
    },
  );
}
