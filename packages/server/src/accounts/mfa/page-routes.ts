import formbody from '@fastify/formbody';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Deps } from '../../deps.js';
import { ApiError } from '../../errors.js';
import { actorOf, checkReturnTo, clearSessionCookie, setSessionCookie } from '../../http/request.js';
import type { App } from '../../http/types.js';
import { escapeHtml } from '../../mail/templates.js';
import { page } from '../../http/html.js';
import { findPendingSession, type PendingSession, recordSecondFactor } from '../sessions.js';
import { DEVICE_COOKIE } from '../devices.js';
import { SESSION_COOKIE } from '../../auth/session-cookie.js';
import { factorsOf, methodsOf } from './factors.js';
import { SECOND_FACTOR_PAGE } from './gate-routes.js';
import { mfaRequiringOrgOf } from './org-policy.js';
import { PASSKEY_SCRIPT } from './passkey-script.js';
import { finishWithCode, finishWithEnrolment, proveCode } from './pending.js';
import { PASSKEY_SIGNIN_PAGE } from './links.js';
import { beginTotp, issuerOf } from './totp.js';
import { totpStore } from './totp-store.js';
import { abandonSession } from '../queries.js';

export const PASSKEY_SCRIPT_PATH = `${SECOND_FACTOR_PAGE}/passkey.js`;

/** These pages run one script of our own, and it talks only to our origin. */
const CSP =
  "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const CodeForm = Type.Object(
  {
    method: Type.Union([Type.Literal('totp'), Type.Literal('recovery_code')]),
    code: Type.String({ maxLength: 64 }),
    return_to: Type.Optional(Type.String({ maxLength: 4000 })),
  },
  { additionalProperties: false },
);
const EnrolForm = Type.Object(
  { code: Type.String({ maxLength: 64 }), return_to: Type.Optional(Type.String({ maxLength: 4000 })) },
  { additionalProperties: false },
);
const PageQuery = Type.Object({
  return_to: Type.Optional(Type.String({ maxLength: 4000 })),
  step_up: Type.Optional(Type.String({ maxLength: 8 })),
});

const e = escapeHtml;

function send(reply: FastifyReply, status: number, title: string, body: string) {
  return reply
    .code(status)
    .header('content-security-policy', CSP)
    .header('cache-control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(page(title, body));
}

const hidden = (returnTo: string | null) =>
  returnTo ? `<input type="hidden" name="return_to" value="${e(returnTo)}">` : '';

function codeForms(
  action: string,
  methods: readonly string[],
  returnTo: string | null,
  error?: string,
): string {
  const parts: string[] = [];
  if (error) parts.push(`<p class="error" role="alert">${e(error)}</p>`);
  if (methods.includes('totp'))
    parts.push(`<form method="post" action="${action}">
<input type="hidden" name="method" value="totp">${hidden(returnTo)}
<label for="code">Code from your authenticator app</label>
<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" maxlength="8" required autofocus>
<button type="submit">Verify</button></form>`);
  if (methods.includes('recovery_code'))
    parts.push(`<details style="margin-top:1rem"${methods.includes('totp') || methods.includes('passkey') ? '' : ' open'}><summary>Use a recovery code</summary>
<form method="post" action="${action}">
<input type="hidden" name="method" value="recovery_code">${hidden(returnTo)}
<label for="recovery">Recovery code</label>
<input id="recovery" name="code" autocomplete="off" maxlength="32" required>
<button type="submit">Use recovery code</button></form></details>`);
  return parts.join('\n');
}

function passkeyButton(o: {
  options: string;
  verify: string;
  returnTo: string | null;
  label: string;
}): string {
  return `<p><button type="button" data-passkey="get" data-options="${e(o.options)}" data-verify="${e(o.verify)}" data-return="${e(o.returnTo ?? '/')}" hidden>${e(o.label)}</button></p>
<p id="passkey-status" class="error" role="alert" hidden></p>
<script src="${PASSKEY_SCRIPT_PATH}" defer></script>`;
}

/** The server-rendered pages of the second factor: finishing a sign-in, enrolling, step-up, passkey sign-in. */
export async function mfaPageRoutes(app: App, deps: Deps): Promise<void> {
  const { db, clock, config } = deps;
  await app.register(formbody, { bodyLimit: 64 * 1024 });

  const returnToOf = (raw: string | undefined) => checkReturnTo(raw, config.publicUrl);
  const pendingOf = async (req: FastifyRequest): Promise<PendingSession | null> => {
    const token = req.cookies[SESSION_COOKIE];
    return token ? findPendingSession(db, clock, token) : null;
  };
  const expiredPage = (reply: FastifyReply) =>
    send(
      reply,
      400,
      'Sign in again',
      `<p>This sign-in expired or was already finished.</p><p><a href="/login">Sign in again</a></p>`,
    );

  const renderPending = async (
    reply: FastifyReply,
    p: PendingSession,
    returnTo: string | null,
    status = 200,
    error?: string,
  ) => {
    if (p.pending === 'enrol') {
      const org = await mfaRequiringOrgOf(db, p.userId);
      const t = await beginTotp(totpStore(deps), {
        userId: p.userId,
        email: p.email,
        issuer: issuerOf(config.publicUrl),
      });
      if (!t) return expiredPage(reply);
      return send(
        reply,
        status,
        'Set up two-factor sign-in',
        `${error ? `<p class="error" role="alert">${e(error)}</p>` : ''}
<p>${org ? `<strong>${e(org.name)}</strong> requires` : 'Your account needs'} a second factor. Scan this code with an authenticator app (1Password, Google Authenticator, Authy…), then enter the code it shows.</p>
<figure class="qr" aria-label="QR code for your authenticator app">${t.qrSvg}</figure>
<p class="muted">Can’t scan it? Enter this key: <code>${e(t.secret.replace(/(.{4})/g, '$1 ').trim())}</code></p>
<form method="post" action="${SECOND_FACTOR_PAGE}/enrol">${hidden(returnTo)}
<label for="code">Code from your authenticator app</label>
<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="8" required autofocus>
<button type="submit">Turn on and continue</button></form>
${cancelForm}`,
      );
    }
    const methods = methodsOf(await factorsOf(db, p.userId));
    return send(
      reply,
      status,
      'Two-factor sign-in',
      `<p>Signing in as <strong>${e(p.email)}</strong>. Prove it’s you with your second factor.</p>
${methods.includes('passkey') ? passkeyButton({ options: '/api/auth/second-factor/passkey-options', verify: '/api/auth/second-factor/passkey', returnTo, label: 'Use a passkey' }) : ''}
${codeForms(SECOND_FACTOR_PAGE, methods, returnTo, error)}
${cancelForm}`,
    );
  };
  const cancelForm = `<form method="post" action="${SECOND_FACTOR_PAGE}/cancel"><button type="submit" value="deny">Cancel and sign out</button></form>`;

  const renderStepUp = async (
    reply: FastifyReply,
    userId: string,
    returnTo: string | null,
    status = 200,
    error?: string,
  ) => {
    const methods = methodsOf(await factorsOf(db, userId));
    if (methods.length === 0)
      return send(
        reply,
        200,
        'Confirm it’s you',
        `<p>Your account has no second factor to prove.</p><p><a href="${e(returnTo ?? '/')}">Continue</a></p>`,
      );
    return send(
      reply,
      status,
      'Confirm it’s you',
      `<p>This change needs your second factor again.</p>
${methods.includes('passkey') ? passkeyButton({ options: '/api/v1/me/step-up/passkey-options', verify: '/api/v1/me/step-up/passkey', returnTo, label: 'Use a passkey' }) : ''}
${codeForms(`${SECOND_FACTOR_PAGE}/step-up`, methods, returnTo, error)}`,
    );
  };

  app.get(PASSKEY_SCRIPT_PATH, { config: { auth: 'none' }, schema: { hide: true } }, async (_req, reply) =>
    reply
      .type('text/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=300')
      .send(PASSKEY_SCRIPT),
  );

  app.get(
    SECOND_FACTOR_PAGE,
    {
      config: { auth: 'optional', credentials: ['session'] },
      schema: { hide: true, querystring: PageQuery },
    },
    async (req, reply) => {
      const returnTo = returnToOf(req.query.return_to);
      const p = await pendingOf(req);
      if (p) return renderPending(reply, p, returnTo);
      const user = req.principal?.kind === 'session' ? req.principal.user : null;
      if (req.query.step_up && user) return renderStepUp(reply, user.id, returnTo);
      if (user) return reply.redirect(returnTo ?? '/', 303);
      return expiredPage(reply);
    },
  );

  /** An error a form can show: the problem's detail; anything else is rethrown. */
  const messageOf = (err: unknown) => {
    if (err instanceof ApiError && err.status < 500)
      return { status: err.status === 401 ? 400 : err.status, text: err.message };
    throw err;
  };

  app.post(
    SECOND_FACTOR_PAGE,
    { config: { auth: 'none' }, schema: { hide: true, body: CodeForm } },
    async (req, reply) => {
      const returnTo = returnToOf(req.body.return_to);
      const p = await pendingOf(req);
      if (!p) return expiredPage(reply);
      try {
        const out = await finishWithCode(
          deps,
          { ...actorOf(req), actor: `user:${p.userId}`, userId: p.userId },
          p,
          {
            method: req.body.method,
            code: req.body.code,
          },
          { device: req.cookies[DEVICE_COOKIE], log: req.log },
        );
        setSessionCookie(reply, config, out.session.token);
        return reply.redirect(returnTo ?? '/', 303);
      } catch (err) {
        const m = messageOf(err);
        const still = await pendingOf(req);
        return still ? renderPending(reply, still, returnTo, m.status, m.text) : expiredPage(reply);
      }
    },
  );

  app.post(
    `${SECOND_FACTOR_PAGE}/enrol`,
    { config: { auth: 'none' }, schema: { hide: true, body: EnrolForm } },
    async (req, reply) => {
      const returnTo = returnToOf(req.body.return_to);
      const p = await pendingOf(req);
      if (!p) return expiredPage(reply);
      try {
        const out = await finishWithEnrolment(
          deps,
          { ...actorOf(req), actor: `user:${p.userId}`, userId: p.userId },
          p,
          req.body.code,
          { device: req.cookies[DEVICE_COOKIE], log: req.log },
        );
        setSessionCookie(reply, config, out.session.token);
        return send(
          reply,
          200,
          'Save your recovery codes',
          `<p role="status">Two-factor sign-in is on.</p>
<p>If you lose your phone, each of these codes signs you in once. Keep them somewhere safe: they are shown only now.</p>
<pre class="recovery-codes">${out.recoveryCodes.map(e).join('\n')}</pre>
<p><a href="${e(returnTo ?? '/')}">Continue</a></p>`,
        );
      } catch (err) {
        const m = messageOf(err);
        return renderPending(reply, p, returnTo, m.status, m.text);
      }
    },
  );

  app.post(
    `${SECOND_FACTOR_PAGE}/cancel`,
    { config: { auth: 'none' }, schema: { hide: true } },
    async (req, reply) => {
      const p = await pendingOf(req);
      if (p) await abandonSession(db, p.id, clock.now());
      clearSessionCookie(reply, config);
      return reply.redirect('/login', 303);
    },
  );

  app.post(
    `${SECOND_FACTOR_PAGE}/step-up`,
    { config: { auth: 'optional', credentials: ['session'] }, schema: { hide: true, body: CodeForm } },
    async (req, reply) => {
      const returnTo = returnToOf(req.body.return_to);
      const p = req.principal?.kind === 'session' ? req.principal : null;
      if (!p?.user || !p.sessionId) return expiredPage(reply);
      try {
        await proveCode(deps, actorOf(req), {
          userId: p.user.id,
          method: req.body.method,
          code: req.body.code,
          purpose: 'step_up',
        });
      } catch (err) {
        const m = messageOf(err);
        return renderStepUp(reply, p.user.id, returnTo, m.status, m.text);
      }
      await recordSecondFactor(db, clock, p.sessionId, 'otp');
      return reply.redirect(returnTo ?? '/', 303);
    },
  );

  app.get(
    PASSKEY_SIGNIN_PAGE,
    { config: { auth: 'none' }, schema: { hide: true, querystring: PageQuery } },
    async (req, reply) => {
      const returnTo = returnToOf(req.query.return_to);
      return send(
        reply,
        200,
        'Sign in with a passkey',
        `<p>Use the passkey saved on this device, your phone or a security key.</p>
${passkeyButton({ options: '/api/auth/passkey/options', verify: '/api/auth/passkey', returnTo, label: 'Sign in with a passkey' })}
<noscript><p class="error">Passkeys need JavaScript. <a href="/login">Sign in another way</a>.</p></noscript>
<p><a href="/login${returnTo ? `?return_to=${encodeURIComponent(returnTo)}` : ''}">Sign in another way</a></p>`,
      );
    },
  );
}
