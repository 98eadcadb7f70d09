import { Type } from 'typebox';
import {
  checkPassword,
  hashPassword,
  PASSWORD_MAX_LENGTH,
  PASSWORD_PROBLEM_TEXT,
} from '../accounts/passwords.js';
import { claimSetup, completeSetup, setupTokenValid } from '../accounts/setup.js';
import { sendEmailVerification } from '../accounts/email-verification.js';
import { cleanName, NAME_MAX } from '../lib/names.js';
import { isValidEmail, normalizeEmail } from '../lib/email.js';
import type { Deps } from '../deps.js';
import { actorOf, setSessionCookie } from '../http/request.js';
import type { App } from '../http/types.js';
import { escapeHtml } from '../mail/templates.js';
import { page, renderMessage } from '../http/html.js';

const SetupForm = Type.Object(
  {
    token: Type.String({ maxLength: 200 }),
    /** `session`: make the signed-in account the admin; otherwise create a new account. */
    use: Type.Optional(Type.Literal('session')),
    email: Type.Optional(Type.String({ maxLength: 254 })),
    name: Type.Optional(Type.String({ maxLength: NAME_MAX })),
    password: Type.Optional(Type.String({ maxLength: PASSWORD_MAX_LENGTH })),
    org_name: Type.Optional(Type.String({ maxLength: NAME_MAX })),
  },
  { additionalProperties: false },
);

const NOT_VALID = 'This setup link is not valid, or an instance admin exists already.';
const EMAIL_TAKEN =
  'An account with this email exists. Sign in as it, then open this link again to make it an instance admin.';

function setupForm(
  token: string,
  error?: string,
  values: { email?: string; name?: string; org_name?: string } = {},
) {
  const v = (s?: string) => escapeHtml(s ?? '');
  return page(
    'Set up Latchkey',
    `<p>Create the first instance admin: the account that runs this Latchkey, and its organisation.</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/setup">
<input type="hidden" name="token" value="${v(token)}">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email" required value="${v(values.email)}">
<label for="name">Your name</label><input id="name" name="name" autocomplete="name" required maxlength="${NAME_MAX}" value="${v(values.name)}">
<label for="password">Password (at least 10 characters)</label><input id="password" name="password" type="password" autocomplete="new-password" required minlength="10">
<label for="org_name">Organisation name</label><input id="org_name" name="org_name" required maxlength="${NAME_MAX}" value="${v(values.org_name)}">
<button type="submit">Create owner</button>
</form>
<p class="muted">Have an account already? Sign in, then open this link again.</p>`,
  );
}

function claimForm(token: string, who: { email: string; name: string }) {
  return page(
    'Set up Latchkey',
    `<p>You are signed in as <strong>${escapeHtml(who.name)}</strong> (${escapeHtml(who.email)}).</p>
<p>Make this account an instance admin of this Latchkey? Instance admins set the sign-up policy and decide the waitlist.</p>
<form method="post" action="/setup">
<input type="hidden" name="token" value="${escapeHtml(token)}">
<input type="hidden" name="use" value="session">
<button type="submit">Make me an instance admin</button>
</form>
<p class="muted">To create a different account instead, sign out and open this link again.</p>`,
  );
}

/**
 * `/setup?token=…`: the one-time link printed while no instance admin exists. It makes the person
 * who opens it an instance admin — the signed-in account after they confirm, or a new account.
 */
export function setupRoutes(app: App, deps: Deps): void {
  const { db, clock, config } = deps;

  app.get(
    '/setup',
    {
      config: { auth: 'optional', credentials: ['session'] },
      schema: {
        hide: true,
        querystring: Type.Object({ token: Type.Optional(Type.String({ maxLength: 200 })) }),
      },
    },
    async (req, reply) => {
      reply.type('text/html; charset=utf-8');
      const token = req.query.token ?? '';
      if (!token || !(await setupTokenValid(db, token)))
        return reply.code(404).send(renderMessage('Setup link not valid', NOT_VALID));
      const user = req.principal?.kind === 'session' ? req.principal.user : null;
      return user ? claimForm(token, user) : setupForm(token);
    },
  );

  app.post(
    '/setup',
    { config: { auth: 'optional', credentials: ['session'] }, schema: { hide: true, body: SetupForm } },
    async (req, reply) => {
      reply.type('text/html; charset=utf-8');
      const b = req.body;
      const invalid = () => reply.code(400).send(renderMessage('Setup link not valid', NOT_VALID));

      if (b.use === 'session') {
        const user = req.principal?.kind === 'session' ? req.principal.user : null;
        if (!user)
          return reply
            .code(401)
            .send(renderMessage('Not signed in', 'Sign in, then open the setup link again.'));
        if (!(await claimSetup(db, clock, actorOf(req), { token: b.token, userId: user.id })))
          return invalid();
        req.log.info({ user_id: user.id }, 'setup completed: an existing account is now an instance admin');
        return reply.redirect('/', 303);
      }

      const email = normalizeEmail(b.email ?? '');
      const name = cleanName(b.name ?? '');
      const orgName = cleanName(b.org_name ?? '');
      const again = (msg: string) =>
        reply.code(400).send(setupForm(b.token, msg, { email: b.email, name: b.name, org_name: b.org_name }));
      if (!isValidEmail(email)) return again('The email address is not valid.');
      if (!name) return again('Your name must not be empty.');
      if (!orgName) return again('The organisation name must not be empty.');
      const problem = checkPassword(b.password ?? '');
      if (problem) return again(PASSWORD_PROBLEM_TEXT[problem]);
      const done = await completeSetup(db, clock, actorOf(req), {
        token: b.token,
        email,
        name,
        orgName,
        passwordHash: await hashPassword(b.password ?? ''),
      });
      if (!done.ok) {
        if (done.reason !== 'email_taken') return invalid();
        const values = { email: b.email, name: b.name, org_name: b.org_name };
        return reply.code(409).send(setupForm(b.token, EMAIL_TAKEN, values));
      }
      req.log.info({ user_id: done.user.id, org_id: done.org.id }, 'setup completed: first owner created');
      // The setup link proves who runs the instance, not who owns the address: it is mailed a link.
      await sendEmailVerification(deps, { id: done.user.id, email, name }, req.log);
      setSessionCookie(reply, config, done.token);
      return reply.redirect('/', 303);
    },
  );
}
