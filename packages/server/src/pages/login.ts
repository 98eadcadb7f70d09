import { Type } from 'typebox';
import { DEVICE_COOKIE, DEVICE_TTL_MS } from '../accounts/devices.js';
import { accountLimiters } from '../accounts/limits.js';
import { MAGIC_LINK_BROWSER_COOKIE, MAGIC_LINK_TTL_MS } from '../accounts/magic-link.js';
import { sendSignInLink } from '../accounts/magic-link-routes.js';
import { passkeySignInSlot } from '../accounts/mfa/links.js';
import { passwordSignIn } from '../accounts/password-signin.js';
import { PASSWORD_MAX_LENGTH } from '../accounts/passwords.js';
import type { ProviderId, SocialErrorCode } from '../accounts/social/provider.js';
import { enabledProviderIds, isProviderId, PROVIDER_NAMES } from '../accounts/social/registry.js';
import { readSignupPolicy } from '../accounts/signup-policy.js';
import { isValidEmail, normalizeEmail } from '../lib/email.js';
import type { Deps } from '../deps.js';
import { ApiError } from '../errors.js';
import { actorOf, checkReturnTo, setHostCookie, setSessionCookie } from '../http/request.js';
import type { App } from '../http/types.js';
import { escapeHtml } from '../mail/templates.js';
import { page, pageCsp } from '../http/html.js';

/** Where the page's "Email me a sign-in link" form posts. */
export const LOGIN_LINK_PATH = '/login/link';
/** The server-rendered sign-up form "Create account" leads to. */
export const CREATE_ACCOUNT_PATH = '/create-account';

const LinkForm = Type.Object(
  {
    email: Type.String({ maxLength: 254 }),
    return_to: Type.Optional(Type.String({ maxLength: 4000 })),
  },
  { additionalProperties: false },
);

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

/** What the sign-in page shows besides the password form. */
export interface LoginPageOptions {
  error?: string;
  notice?: string;
  email?: string;
  providers?: readonly ProviderId[];
  /** Whether "Create account" is offered (the sign-up policy admits new accounts). */
  signup?: boolean;
  /**
   * Passwordless sign-in with a passkey: HTML placed above every other way in. Empty when the
   * server offers none.
   */
  passkeySlot?: string;
}

function returnQuery(returnTo: string | null): string {
  return returnTo ? `?return_to=${encodeURIComponent(returnTo)}` : '';
}

/**
 * The `login_hint` of the authorization request a sign-in resumes (OpenID Connect Core §3.1.2.1),
 * when it looks like an email address: it only prefills the email field (escaped where it is
 * written). It is never taken as who signs in — the person still proves that.
 */
function loginHintOf(returnTo: string | null): string | null {
  if (!returnTo) return null;
  const u = new URL(returnTo, 'http://latchkey.invalid');
  if (u.pathname !== '/api/oauth/authorize') return null;
  const hint = u.searchParams.get('login_hint');
  return hint && hint.length <= 254 && /^[^\s@]+@[^\s@]+$/.test(hint) ? hint : null;
}

export function loginPage(returnTo: string | null, opts: LoginPageOptions = {}): string {
  const rt = returnTo ? `<input type="hidden" name="return_to" value="${escapeHtml(returnTo)}">` : '';
  const email = opts.email ?? loginHintOf(returnTo) ?? '';
  const q = escapeHtml(returnQuery(returnTo));
  return page(
    'Sign in',
    `${opts.error ? `<p class="error" role="alert">${escapeHtml(opts.error)}</p>` : ''}
${opts.notice ? `<p role="status">${escapeHtml(opts.notice)}</p>` : ''}
${opts.passkeySlot ?? passkeySignInSlot(returnTo)}
${providerButtons(opts.providers ?? [], returnTo)}
<form method="post" action="/login" aria-label="Sign in with a password">
${rt}
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required value="${escapeHtml(email)}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<p><a href="/forgot-password${q}">Forgot password?</a></p>
<h2>No password?</h2>
<form method="post" action="${LOGIN_LINK_PATH}" aria-label="Email me a sign-in link">
${rt}
<label for="link-email">Email</label><input id="link-email" name="email" type="email" autocomplete="email" required value="${escapeHtml(email)}">
<button type="submit">Email me a sign-in link</button>
</form>
<h2>Single sign-on</h2>
<form method="get" action="/api/sso/start" aria-label="Single sign-on">
${rt}<input type="hidden" name="form" value="1">
<label for="sso-email">Your work email</label><input id="sso-email" name="email" type="email" autocomplete="email" required value="${escapeHtml(email)}">
<button type="submit">Continue with SSO</button>
</form>
${opts.signup ? `<p class="muted">New here? <a href="${CREATE_ACCOUNT_PATH}${q}">Create account</a></p>` : ''}`,
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
  const limits = accountLimiters(deps.cache);
  /** "Create account" is offered unless new accounts are by invitation only. */
  const signupOffered = async () => (await readSignupPolicy(deps.db)).policy !== 'invite-only';

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
          // A relying party asked for a fresh sign-in (OpenID prompt=login, max_age): show the form.
          reauth: Type.Optional(Type.Literal('1')),
        }),
      },
    },
    async (req, reply) => {
      const returnTo = checkReturnTo(req.query.return_to, deps.config.publicUrl);
      const said = socialMessage(req.query.error, req.query.provider);
      if (req.principal?.kind === 'session' && req.query.reauth === undefined) {
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
            signup: await signupOffered(),
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
            log: req.log,
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
              signup: await signupOffered(),
            }),
          );
      }
    },
  );

  /**
   * "Email me a sign-in link": the magic-link flow from a form, for people without a password
   * (overseers, SSO and SCIM users) finishing an OAuth or device sign-in. The answer is the same
   * whether or not the account exists; the link leads back to `return_to`.
   */
  app.post(
    LOGIN_LINK_PATH,
    { config: { auth: 'none' }, schema: { hide: true, body: LinkForm } },
    async (req, reply) => {
      const returnTo = checkReturnTo(req.body.return_to, deps.config.publicUrl);
      const email = normalizeEmail(req.body.email);
      const html = (status: number, body: string) =>
        reply
          .code(status)
          .type('text/html; charset=utf-8')
          .header('content-security-policy', pageCsp(formRedirects(returnTo)))
          .send(body);
      if (!isValidEmail(email))
        return html(
          400,
          loginPage(returnTo, {
            error: 'The email address is not valid.',
            email: req.body.email.slice(0, 254),
            providers: enabledProviderIds(deps.config),
            signup: await signupOffered(),
          }),
        );
      try {
        const browser = await sendSignInLink(deps, limits, {
          email,
          returnTo,
          ip: req.ip,
          heldBrowser: req.cookies[MAGIC_LINK_BROWSER_COOKIE],
          log: req.log,
        });
        setHostCookie(reply, deps.config, {
          name: MAGIC_LINK_BROWSER_COOKIE,
          value: browser,
          maxAgeSeconds: MAGIC_LINK_TTL_MS / 1000,
        });
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        for (const [k, v] of Object.entries(err.options.headers ?? {})) reply.header(k, v);
        return html(err.status, loginPage(returnTo, { error: err.detail ?? 'Try again later.', email }));
      }
      return html(
        200,
        page(
          'Check your email',
          `<p role="status">If ${escapeHtml(email)} can receive mail, a sign-in link is on its way. It works once, for ${MAGIC_LINK_TTL_MS / 60_000} minutes.</p>
<p class="muted">Open it in this browser to continue where you left off.</p>
<p><a href="/login${escapeHtml(returnQuery(returnTo))}">Back to sign-in</a></p>`,
        ),
      );
    },
  );
}
