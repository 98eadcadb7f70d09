import formbody from '@fastify/formbody';
import { Type } from 'typebox';
import {
  checkPassword,
  hashPassword,
  PASSWORD_MAX_LENGTH,
  PASSWORD_PROBLEM_TEXT,
} from '../accounts/passwords.js';
import { completeSetup, setupTokenValid } from '../accounts/setup.js';
import { cleanName, isValidEmail, NAME_MAX, normalizeEmail } from '../accounts/users.js';
import type { Deps } from '../deps.js';
import { actorOf, setSessionCookie } from '../http/request.js';
import type { App } from '../http/types.js';
import { escapeHtml } from '../mail/templates.js';
import { listUserOrgs } from '../orgs/queries.js';
import { dashboardBuilt } from './dashboard-routes.js';
import { inviteRoutes } from './invite.js';
import { loginRoutes } from './login.js';
import { PAGE_CSP, page, renderMessage } from './render.js';
import { signupRoutes } from './signup.js';

const SetupForm = Type.Object(
  {
    token: Type.String({ maxLength: 200 }),
    email: Type.String({ maxLength: 254 }),
    name: Type.String({ maxLength: NAME_MAX }),
    password: Type.String({ maxLength: PASSWORD_MAX_LENGTH }),
    org_name: Type.String({ maxLength: NAME_MAX }),
  },
  { additionalProperties: false },
);

function setupForm(
  token: string,
  error?: string,
  values: { email?: string; name?: string; org_name?: string } = {},
) {
  const v = (s?: string) => escapeHtml(s ?? '');
  return page(
    'Set up Latchkey',
    `<p>Create the first owner account and organisation.</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/setup">
<input type="hidden" name="token" value="${v(token)}">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email" required value="${v(values.email)}">
<label for="name">Your name</label><input id="name" name="name" autocomplete="name" required maxlength="${NAME_MAX}" value="${v(values.name)}">
<label for="password">Password (at least 10 characters)</label><input id="password" name="password" type="password" autocomplete="new-password" required minlength="10">
<label for="org_name">Organisation name</label><input id="org_name" name="org_name" required maxlength="${NAME_MAX}" value="${v(values.org_name)}">
<button type="submit">Create owner</button>
</form>`,
  );
}

/** The server-rendered pages: `/` and the one-time `/setup`. */
export async function pageRoutes(app: App, deps: Deps): Promise<void> {
  const { db, clock, config } = deps;
  await app.register(formbody, { bodyLimit: 64 * 1024 });
  app.addHook('onSend', async (_req, reply) => {
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', PAGE_CSP);
    reply.header('cache-control', 'no-store');
  });

  app.get(
    '/setup',
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
      if (!token || !(await setupTokenValid(db, token))) {
        return reply
          .code(404)
          .send(
            renderMessage(
              'Setup link not valid',
              'This setup link is not valid, or setup is already complete.',
            ),
          );
      }
      return setupForm(token);
    },
  );

  app.post(
    '/setup',
    { config: { auth: 'none' }, schema: { hide: true, body: SetupForm } },
    async (req, reply) => {
      reply.type('text/html; charset=utf-8');
      const b = req.body;
      const email = normalizeEmail(b.email);
      const name = cleanName(b.name);
      const orgName = cleanName(b.org_name);
      const again = (msg: string) =>
        reply.code(400).send(setupForm(b.token, msg, { email: b.email, name: b.name, org_name: b.org_name }));
      if (!isValidEmail(email)) return again('The email address is not valid.');
      if (!name) return again('Your name must not be empty.');
      if (!orgName) return again('The organisation name must not be empty.');
      const problem = checkPassword(b.password);
      if (problem) return again(PASSWORD_PROBLEM_TEXT[problem]);
      const done = await completeSetup(db, clock, actorOf(req), {
        token: b.token,
        email,
        name,
        orgName,
        passwordHash: await hashPassword(b.password),
      });
      if (!done) {
        return reply
          .code(400)
          .send(
            renderMessage(
              'Setup link not valid',
              'This setup link is not valid, or setup is already complete.',
            ),
          );
      }
      req.log.info({ user_id: done.user.id, org_id: done.org.id }, 'setup completed: first owner created');
      setSessionCookie(reply, config, done.token);
      return reply.redirect('/', 303);
    },
  );

  inviteRoutes(app, deps);
  loginRoutes(app, deps);
  signupRoutes(app, deps);

  app.get('/', { config: { auth: 'optional' }, schema: { hide: true } }, async (req, reply) => {
    if (dashboardBuilt(config.dashboardDir)) return reply.redirect('/app/', 303);
    reply.type('text/html; charset=utf-8');
    const user = req.principal?.kind === 'session' ? req.principal.user : null;
    if (!user) {
      return page(
        'Latchkey',
        `<p>Latchkey is running. You are not signed in.</p>
<p class="muted">Sign in with <code>POST /api/auth/signin</code> or a magic link (<code>POST /api/auth/magic-link</code>).
The API is described at <a href="/api/openapi.json">/api/openapi.json</a>.</p>`,
      );
    }
    const orgs = await listUserOrgs(db, user.id);
    const items = orgs
      .map(
        (o) =>
          `<li><strong>${escapeHtml(o.name)}</strong> <span class="muted">(${escapeHtml(o.slug)}, ${escapeHtml(o.role)})</span></li>`,
      )
      .join('');
    return page(
      'Latchkey',
      `<p>Signed in as <strong>${escapeHtml(user.name)}</strong> (${escapeHtml(user.email)}).</p>
<h2>Your organisations</h2><ul>${items || '<li class="muted">None yet.</li>'}</ul>
<p class="muted">The API is described at <a href="/api/openapi.json">/api/openapi.json</a>.</p>`,
    );
  });
}
