import { Type } from 'typebox';
import {
  checkPassword,
  hashPassword,
  PASSWORD_MAX_LENGTH,
  PASSWORD_PROBLEM_TEXT,
} from '../accounts/passwords.js';
import { signIn } from '../accounts/signin.js';
import { SignupRefused } from '../accounts/signup-policy.js';
import { enabledProviderIds, PROVIDER_NAMES } from '../accounts/social/registry.js';
import { cleanName, NAME_MAX } from '../lib/names.js';
import { createAccount, findUserByEmail } from '../accounts/users.js';
import { isUniqueViolation } from '../db/errors.js';
import { findApproval } from '../accounts/waitlist.js';
import type { Deps } from '../deps.js';
import { actorOf, setSessionCookie } from '../http/request.js';
import type { App } from '../http/types.js';
import { escapeHtml } from '../mail/templates.js';
import { page, renderMessage } from '../http/html.js';

const INVALID =
  'This sign-up link is invalid, expired or already used. Ask the operator to approve you again.';
const EXISTS = 'An account with this email exists already: sign in instead.';

const Form = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 200 }),
    name: Type.String({ maxLength: NAME_MAX }),
    password: Type.String({ maxLength: PASSWORD_MAX_LENGTH }),
  },
  { additionalProperties: false },
);

function signupPage(
  token: string,
  a: { email: string; name: string | null },
  providers: readonly string[],
  error?: string,
): string {
  const alt = providers.length
    ? `<p class="muted">Or sign in with ${providers.map((p) => escapeHtml(p)).join(' or ')} using ${escapeHtml(a.email)}, from the <a href="/login">sign-in page</a>.</p>`
    : '';
  return page(
    'Create your account',
    `<p>Your request was approved. Create the account for <strong>${escapeHtml(a.email)}</strong>.</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/signup">
<input type="hidden" name="token" value="${escapeHtml(token)}">
<label for="name">Your name</label><input id="name" name="name" autocomplete="name" required maxlength="${NAME_MAX}" value="${escapeHtml(a.name ?? '')}">
<label for="password">Password (at least 10 characters)</label><input id="password" name="password" type="password" autocomplete="new-password" required minlength="10">
<button type="submit">Create account</button>
</form>
${alt}`,
  );
}

/** `/signup?token=…`: where a waitlist approval's email leads; creates the account despite the policy, once. */
export function signupRoutes(app: App, deps: Deps): void {
  const { db, clock, config } = deps;
  const providers = () => enabledProviderIds(config).map((id) => PROVIDER_NAMES[id]);

  app.get(
    '/signup',
    {
      config: { auth: 'none' },
      schema: {
        hide: true,
        querystring: Type.Object({ token: Type.Optional(Type.String({ maxLength: 200 })) }),
      },
    },
    async (req, reply) => {
      reply.type('text/html; charset=utf-8');
      const token = req.query.token ?? '';
      const approval = token ? await findApproval(db, clock, token) : undefined;
      if (!approval) return reply.code(404).send(renderMessage('Link not valid', INVALID));
      if (await findUserByEmail(db, approval.email))
        return reply.code(409).send(renderMessage('Account exists', EXISTS));
      return signupPage(token, approval, providers());
    },
  );

  app.post(
    '/signup',
    { config: { auth: 'none' }, schema: { hide: true, body: Form } },
    async (req, reply) => {
      reply.type('text/html; charset=utf-8');
      const { token } = req.body;
      const approval = await findApproval(db, clock, token);
      if (!approval) return reply.code(400).send(renderMessage('Link not valid', INVALID));
      const again = (msg: string) =>
        reply.code(400).send(signupPage(token, { ...approval, name: req.body.name }, providers(), msg));
      const name = cleanName(req.body.name);
      if (!name) return again('Your name must not be empty.');
      const problem = checkPassword(req.body.password);
      if (problem) return again(PASSWORD_PROBLEM_TEXT[problem]);
      const passwordHash = await hashPassword(req.body.password);
      const who = actorOf(req);
      let result: string | null;
      try {
        result = await db.transaction().execute(async (trx) => {
          const acct = await createAccount(trx, clock, who, {
            email: approval.email,
            name,
            passwordHash,
            // The link came by mail to this address.
            emailVerified: true,
            via: 'waitlist',
            admission: { kind: 'approval', token },
          });
          const s = await signIn(trx, clock, who, {
            userId: acct.user.id,
            orgId: acct.org.id,
            method: 'password',
          });
          return s.token;
        });
      } catch (err) {
        // Used meanwhile (the policy refused without the approval), or the email taken meanwhile.
        if (err instanceof SignupRefused)
          return reply.code(400).send(renderMessage('Link not valid', INVALID));
        if (!isUniqueViolation(err)) throw err;
        result = null;
      }
      if (!result) return reply.code(409).send(renderMessage('Account exists', EXISTS));
      setSessionCookie(reply, config, result);
      return reply.redirect('/', 303);
    },
  );
}
