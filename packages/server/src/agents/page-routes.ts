import formbody from '@fastify/formbody';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { accountLimiters } from '../accounts/limits.js';
import { issueMagicLink, MAGIC_LINK_TTL_MS } from '../accounts/magic-link.js';
import { SESSION_COOKIE } from '../auth/session-cookie.js';
import { formToken, formTokenValid } from '../http/csrf.js';
import { actorOf } from '../http/request.js';
import type { App } from '../http/types.js';
import { UUID_RE, sha256Hex } from '../lib/secrets.js';
import { escapeHtml, magicLinkEmail } from '../mail/templates.js';
import type { AgentDeps } from './deps.js';
import { PAGE_CSP, page, renderMessage } from '../http/html.js';
import { type Decision, decide, mayDecide } from './decide.js';
import {
  HARNESS_NAMES,
  HARNESSES,
  harnessName,
  installStep,
  KEY_ENV,
  knownHarness,
  mcpServers,
} from './install.js';
import { type AgentRow, findAgent } from './queries.js';
import { agentRights } from './rights.js';

export const REVIEW_PATH = '/agents/review';

/** The link in the signup email: the page where the human, signed in, approves or denies the agent. */
export function reviewLink(publicUrl: string, agentId: string): string {
  return `${publicUrl}${REVIEW_PATH}?agent=${agentId}`;
}

const e = escapeHtml;

function html(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('content-security-policy', PAGE_CSP)
    .send(body);
}

const NOT_VALID = () => renderMessage('Link not valid', 'This agent review link is not valid.');

function signInPage(agentId: string, note?: string): string {
  const returnTo = `${REVIEW_PATH}?agent=${agentId}`;
  return page(
    'Review an AI agent',
    `${note ? `<p class="error" role="alert">${e(note)}</p>` : ''}
<p>An AI agent named you as the person who oversees it. Sign in with the email address the request was sent to, to approve or deny it.</p>
<form method="post" action="${REVIEW_PATH}/sign-in">
<input type="hidden" name="agent" value="${e(agentId)}">
<button type="submit">Email me a sign-in link</button>
</form>
<p class="muted">Have a password? <a href="/login?return_to=${e(encodeURIComponent(returnTo))}">Sign in</a>.</p>`,
  );
}

function reviewPage(a: AgentRow, csrf: string, rights: { allowed: readonly string[] }): string {
  const facts = `<p><strong>${e(a.display_name)}</strong>${a.harness ? ` <span class="muted">(${e(harnessName(a.harness))})</span>` : ''} signed up on ${e(a.created_at.toISOString().slice(0, 16).replace('T', ' '))} UTC and named <strong>${e(a.human_email)}</strong> as its overseer.</p>
${a.note_to_human ? `<p>Its note to you:</p><blockquote>${e(a.note_to_human)}</blockquote>` : ''}`;
  if (a.status !== 'unclaimed') {
    const said = { claimed: 'It has been approved.', denied: 'It was denied.', revoked: 'It was revoked.' };
    return page('Review an AI agent', `${facts}<p>${said[a.status]}</p>`);
  }
  return page(
    'Review an AI agent',
    `${facts}
<p>Approving makes you the owner of its organisation, and gives its key the free plan. Until then it may only use: ${rights.allowed.map((s) => `<code>${e(s)}</code>`).join(', ') || 'nothing'}.</p>
<form method="post" action="${REVIEW_PATH}">
<input type="hidden" name="agent" value="${e(a.id)}">
<input type="hidden" name="csrf_token" value="${e(csrf)}">
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny" style="background:#666">Deny</button>
</form>
<p class="muted">Denying revokes the agent's key at once.</p>`,
  );
}

const DONE: Record<'approve' | 'deny', [string, string]> = {
  approve: [
    'Agent approved',
    'You now own its organisation; the agent works with the free plan. Manage it from the dashboard.',
  ],
  deny: ['Agent denied', 'Its key has been revoked; it can no longer call Latchkey or your MCP servers.'],
};

/**
 * The server-rendered agent pages: `/agents/review` (the emailed link; the human, signed in,
 * approves or denies with a plain form carrying the session's CSRF token), its sign-in helper,
 * and `/agents/install` (how to add the configured MCP servers, per harness).
 */
export async function agentPageRoutes(app: App, deps: AgentDeps): Promise<void> {
  const { db, clock, config, catalogue } = deps;
  await app.register(formbody, { bodyLimit: 64 * 1024 });
  app.addHook('onSend', async (_req, reply) => {
    reply.header('cache-control', 'no-store');
  });
  const limits = accountLimiters(deps.cache);
  const signedIn = (req: FastifyRequest) => (req.principal?.kind === 'session' ? req.principal : null);
  const rightsOf = (a: AgentRow) => agentRights(config.agentPlans, catalogue, a.status);

  /** The agent named by a link or form, and whether this person may decide about it. */
  const load = async (req: FastifyRequest, id: unknown) => {
    const agent =
      typeof id === 'string' && UUID_RE.test(id) ? await findAgent(db, id.toLowerCase()) : undefined;
    if (!agent) return { agent: null, access: null };
    const p = signedIn(req);
    return { agent, access: p ? await mayDecide(deps, p, null, agent) : null };
  };

  const refused = (reply: FastifyReply, agentId: string, reason: string) =>
    reason === 'unverified'
      ? html(reply, 403, signInPage(agentId, 'Confirm your email address with a sign-in link first.'))
      : html(
          reply,
          403,
          renderMessage(
            'Not for you',
            'This request was sent to another email address. Sign out and open the link again.',
          ),
        );

  app.get(
    REVIEW_PATH,
    {
      config: { auth: 'optional', credentials: ['session'] },
      schema: {
        hide: true,
        querystring: Type.Object({ agent: Type.Optional(Type.String({ maxLength: 100 })) }),
      },
    },
    async (req, reply) => {
      const { agent, access } = await load(req, req.query.agent);
      if (!agent) return html(reply, 404, NOT_VALID());
      if (!access) return html(reply, 200, signInPage(agent.id));
      if (!access.ok) return refused(reply, agent.id, access.reason);
      return html(reply, 200, reviewPage(agent, formToken(req.cookies[SESSION_COOKIE]!), rightsOf(agent)));
    },
  );

  app.post(
    REVIEW_PATH,
    { config: { auth: 'optional', credentials: ['session'] }, schema: { hide: true } },
    async (req, reply) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (!signedIn(req))
        return html(reply, 401, renderMessage('Signed out', 'Your session ended. Open the link again.'));
      if (!formTokenValid(req.cookies[SESSION_COOKIE], body.csrf_token))
        return html(
          reply,
          403,
          renderMessage('Request refused', 'This form was not issued to your session. Open the link again.'),
        );
      const decision = body.decision;
      if (decision !== 'approve' && decision !== 'deny')
        return html(reply, 400, renderMessage('Request refused', 'Choose approve or deny.'));
      const { agent, access } = await load(req, body.agent);
      if (!agent) return html(reply, 404, NOT_VALID());
      if (!access?.ok) return refused(reply, agent.id, access?.reason ?? 'forbidden');
      const out = await decide(deps, actorOf(req), agent.id, decision satisfies Decision);
      if (!out.ok)
        return html(
          reply,
          409,
          renderMessage('Already decided', 'This agent is no longer waiting for a decision.'),
        );
      const [title, text] = DONE[decision];
      return html(reply, 200, renderMessage(title, text));
    },
  );

  /** Mails a sign-in link that returns to the review page — only ever to the address the agent named. */
  app.post(
    `${REVIEW_PATH}/sign-in`,
    { config: { auth: 'optional', credentials: ['session'] }, schema: { hide: true } },
    async (req, reply) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const { agent } = await load(req, body.agent);
      const sent = renderMessage(
        'Check your inbox',
        'If this request is still open, a sign-in link is on its way to the address it was sent to.',
      );
      if (!agent || agent.status !== 'unclaimed') return html(reply, 202, sent);
      const ip = await limits.magicLinksPerIp.consume(req.ip);
      if (!ip.allowed) {
        reply.header('retry-after', String(ip.retryAfterSeconds));
        return html(reply, 429, renderMessage('Too many requests', 'Try again later.'));
      }
      if (!(await limits.magicLinksPerEmail.consume(sha256Hex(agent.human_email))).allowed)
        return html(reply, 202, sent);
      const token = await issueMagicLink(db, clock, agent.human_email, `${REVIEW_PATH}?agent=${agent.id}`);
      const link = `${config.publicUrl}/api/auth/magic-link/callback?token=${token}`;
      await deps.mailer
        .send(magicLinkEmail(agent.human_email, link, MAGIC_LINK_TTL_MS / 60_000))
        .catch((err: Error) => req.log.error({ err: err.message }, 'sending a review sign-in link failed'));
      return html(reply, 202, sent);
    },
  );

  app.get(
    '/agents/install',
    {
      config: { auth: 'none' },
      schema: {
        hide: true,
        querystring: Type.Object({ harness: Type.Optional(Type.String({ maxLength: 40 })) }),
      },
    },
    async (req, reply) => {
      const servers = mcpServers(catalogue.resources);
      const asked = req.query.harness === undefined ? null : knownHarness(req.query.harness);
      const shown = asked ? [asked, ...HARNESSES.filter((h) => h !== asked)] : [...HARNESSES];
      if (servers.length === 0)
        return html(
          reply,
          200,
          renderMessage('Install MCP servers', 'No MCP servers are configured here yet.'),
        );
      const list = servers
        .map(
          (s) =>
            `<li><strong>${e(s.title)}</strong> <code>${e(s.url)}</code>${s.takesKey ? '' : ' (OAuth sign-in)'}</li>`,
        )
        .join('');
      const sections = shown
        .map((h) => {
          const step = installStep(h, servers);
          const links = (step.deeplinks ?? [])
            .map((d) => `<li><a href="${e(d.url)}">Add ${e(d.name)} to ${e(HARNESS_NAMES[h])}</a></li>`)
            .join('');
          return `<h2 id="${e(h)}">${e(HARNESS_NAMES[h])}</h2><p>${e(step.where)}</p>${links ? `<ul>${links}</ul>` : ''}${step.snippet ? `<pre style="white-space:pre-wrap;overflow-wrap:anywhere"><code>${e(step.snippet)}</code></pre>` : ''}`;
        })
        .join('\n');
      const key = servers.some((s) => s.takesKey)
        ? `<p>Servers that take your agent key read it from <code>${e(KEY_ENV)}</code>: set it to the key <code>POST /api/v1/agent-signup</code> returned. The key is never shown here.</p>`
        : '';
      return html(
        reply,
        200,
        page(
          'Install MCP servers',
          `<p>This Latchkey protects these MCP servers:</p><ul>${list}</ul>${key}${sections}`,
        ),
      );
    },
  );
}
