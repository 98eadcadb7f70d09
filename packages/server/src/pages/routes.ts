import formbody from '@fastify/formbody';
import type { Deps } from '../deps.js';
import type { App } from '../http/types.js';
import { escapeHtml } from '../mail/templates.js';
import { listUserOrgs } from '../orgs/queries.js';
import { createAccountRoutes } from './create-account.js';
import { dashboardBuilt } from './dashboard-routes.js';
import { forgotPasswordRoutes } from './forgot-password.js';
import { inviteRoutes } from './invite.js';
import { loginRoutes } from './login.js';
import { PAGE_CSP, page } from '../http/html.js';
import { resetPasswordRoutes } from './reset-password.js';
import { setupRoutes } from './setup.js';
import { signupRoutes } from './signup.js';

/** The server-rendered pages: `/` and the one-time `/setup`. */
export async function pageRoutes(app: App, deps: Deps): Promise<void> {
  const { db, config } = deps;
  await app.register(formbody, { bodyLimit: 64 * 1024 });
  app.addHook('onSend', async (_req, reply) => {
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', PAGE_CSP);
    reply.header('cache-control', 'no-store');
  });

  setupRoutes(app, deps);
  inviteRoutes(app, deps);
  loginRoutes(app, deps);
  signupRoutes(app, deps);
  forgotPasswordRoutes(app, deps);
  createAccountRoutes(app, deps);
  resetPasswordRoutes(app, deps);

  app.get(
    '/',
    { config: { auth: 'optional', credentials: ['session'] }, schema: { hide: true } },
    async (req, reply) => {
      if (dashboardBuilt(config.dashboardDir)) return reply.redirect('/app/', 303);
      reply.type('text/html; charset=utf-8');
      const user = req.principal?.kind === 'session' ? req.principal.user : null;
      if (!user) {
        return page(
          'Latchkey',
          `<p>Latchkey is running. You are not signed in.</p>
<p><a href="/login">Sign in</a></p>
<p class="muted">The API is described at <a href="/api/openapi.json">/api/openapi.json</a>.</p>`,
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
    },
  );
}
