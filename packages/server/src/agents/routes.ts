import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { cleanName } from '../lib/names.js';
import { isValidEmail, normalizeEmail } from '../lib/email.js';
import { bearerToken, invalidCredential } from '../auth/principal.js';
import { ApiError, rateLimited } from '../errors.js';
import { actorOf, principalOf } from '../http/request.js';
import type { App } from '../http/types.js';
import { agentSignupEmail } from '../mail/templates.js';
import type { AgentDeps } from './deps.js';
import { hashToken } from '../tokens/format.js';
import { verifyCode } from './claim.js';
import { CODE_RE } from './code.js';
import { emailDomain, orgRefusal, type Refusal, recordBlockedAttempt, signupRefusal } from './blocks.js';
import { isSuspended } from './controls.js';
import {
  HARNESS_MAX,
  HARNESS_RE,
  harnessName,
  installHint,
  installUrl,
  knownHarness,
  mcpServers,
} from './install.js';
import {
  AGENT_SIGNUPS_PER_IP_PER_HOUR,
  CODE_TTL_MS,
  DISPLAY_NAME_MAX,
  MAX_CODE_ATTEMPTS,
  NOTE_MAX,
  PENDING_SIGNUPS_PER_EMAIL,
} from './limits.js';
import { llmsTxt } from './llms.js';
import { orgAgentRoutes } from './org-routes.js';
import { agentPageRoutes, reviewLink } from './page-routes.js';
import { findAgentByTokenHash } from './queries.js';
import { AGENT_PLAN, agentRights, restrictionsShape } from './rights.js';
import { Restrictions } from './shapes.js';
import { startSignup } from './signup.js';

const SignupBody = Type.Object(
  {
    human_email: Type.String({ minLength: 3, maxLength: 254 }),
    display_name: Type.String({ minLength: 1, maxLength: DISPLAY_NAME_MAX }),
    note_to_human: Type.Optional(Type.String({ maxLength: NOTE_MAX })),
    harness: Type.Optional(Type.String({ minLength: 1, maxLength: HARNESS_MAX })),
  },
  { additionalProperties: false },
);

const Signed = Type.Object({
  api_key: Type.String(),
  org_id: Type.String(),
  agent_id: Type.String(),
  status: Type.Literal('unclaimed'),
  email_address: Type.Union([Type.String(), Type.Null()]),
  /** Where to install the MCP servers (for the agent's harness); usable once a human verifies. */
  mcp_install_url: Type.String(),
});

const Verified = Type.Object({
  status: Type.Literal('claimed'),
  scopes_upgraded: Type.Array(Type.String()),
  mcp_install_url: Type.String(),
  install_hint: Type.String(),
});

const Status = Type.Object({
  claim_status: Type.Union([Type.Literal('unclaimed'), Type.Literal('claimed')]),
  restrictions: Restrictions,
  entitlements: Type.Object({ plan: Type.String(), mcp_install_ready: Type.Boolean() }),
});

const BLOCKED: Record<Refusal['reason'], string> = {
  ip_blocked: 'Agent signups from this network are blocked by the operator.',
  email_domain_blocked: 'Agent signups naming an overseer at this email domain are blocked by the operator.',
  org_blocked: "The operator blocked this person's organisation from agent signup.",
};

/** A block's refusal on the wire: 403 `agent_signup_blocked` with the reason code. */
function blocked(r: Refusal): ApiError {
  return new ApiError('agent_signup_blocked', BLOCKED[r.reason], { extra: { reason: r.reason } });
}

/** Text on one line, without control characters (the agent's own words, shown to a person). */
function oneLine(s: string | undefined): string | null {
  return s === undefined ? null : cleanName(s).replace(/\s+/g, ' ') || null;
}

/**
 * Agent self-signup: `POST /api/v1/agent-signup` (no credential), then, with the agent's key,
 * `POST /api/v1/agent-signup/verify` and `GET /api/v1/agent-signup/status`. Also registers the
 * org's agent management API and the review and install pages.
 */
export async function agentRoutes(app: App, deps: AgentDeps): Promise<void> {
  const { db, clock, config, catalogue } = deps;
  const perIp = deps.cache.limiter({
    name: 'agents:signup',
    points: AGENT_SIGNUPS_PER_IP_PER_HOUR,
    windowSeconds: 3600,
  });
  const servers = mcpServers(catalogue.resources);

  /** The agent calling with its own key; any other credential is refused. */
  const callingAgent = async (req: FastifyRequest) => {
    if (principalOf(req).kind !== 'svc_agent')
      throw new ApiError('forbidden', 'This needs an agent key (from POST /api/v1/agent-signup).');
    const agent = await findAgentByTokenHash(db, hashToken(bearerToken(req) ?? ''));
    if (!agent) throw invalidCredential();
    return agent;
  };

  app.post(
    '/api/v1/agent-signup',
    {
      config: { auth: 'none' },
      schema: { tags: ['agents'], body: SignupBody, response: { 201: Signed } },
    },
    async (req, reply) => {
      const humanEmail = normalizeEmail(req.body.human_email);
      if (!isValidEmail(humanEmail))
        throw new ApiError('invalid_request', 'human_email is not a valid email address.');
      const displayName = oneLine(req.body.display_name);
      if (!displayName) throw new ApiError('invalid_request', 'display_name must not be empty.');
      const limited = await perIp.consume(req.ip);
      if (!limited.allowed)
        throw rateLimited(
          limited.retryAfterSeconds,
          `At most ${AGENT_SIGNUPS_PER_IP_PER_HOUR} agent signups an hour from one address.`,
        );
      const harness = req.body.harness === undefined ? null : req.body.harness.trim().toLowerCase();
      if (harness !== null && !HARNESS_RE.test(harness))
        throw new ApiError(
          'invalid_request',
          'harness is a short identifier: letters, digits, ".", "_" or "-" (cursor, claude-code, zed…).',
        );
      const refusal = await signupRefusal(db, req.ip, humanEmail);
      if (refusal) {
        await recordBlockedAttempt(db, clock, {
          refusal,
          ip: req.ip,
          emailDomain: emailDomain(humanEmail),
          orgId: null,
        });
        req.log.info({ reason: refusal.reason }, 'agent signup refused by an operator block');
        throw blocked(refusal);
      }
      const note = oneLine(req.body.note_to_human);
      const out = await db.transaction().execute((trx) =>
        startSignup(trx, clock, actorOf(req), {
          humanEmail,
          displayName,
          note,
          harness,
          scopes: config.agentPlans.unclaimed.scopes,
          tokenPrefix: config.tokenPrefix,
        }),
      );
      if (!out.ok)
        throw new ApiError(
          'too_many_pending',
          `${PENDING_SIGNUPS_PER_EMAIL} agent signups already await this person; try again when a code expires.`,
          { headers: { 'retry-after': String(out.retryAfterSeconds) } },
        );
      try {
        await deps.mailer.send(
          agentSignupEmail({
            to: humanEmail,
            agentName: displayName,
            note,
            harness: harness ? harnessName(harness) : null,
            code: out.code,
            minutes: CODE_TTL_MS / 60_000,
            reviewLink: reviewLink(config.publicUrl, out.agentId),
          }),
        );
      } catch (err) {
        req.log.error({ err: (err as Error).message }, 'sending the agent verification code failed');
      }
      return reply.code(201).send({
        api_key: out.apiKey,
        org_id: out.orgId,
        agent_id: out.agentId,
        status: 'unclaimed' as const,
        email_address: null,
        mcp_install_url: installUrl(config.publicUrl, harness),
      });
    },
  );

  app.post(
    '/api/v1/agent-signup/verify',
    {
      config: { auth: 'user', credentials: ['svc_agent'] },
      schema: {
        tags: ['agents'],
        body: Type.Object(
          { verification_code: Type.String({ minLength: 1, maxLength: 20 }) },
          { additionalProperties: false },
        ),
        response: { 200: Verified },
      },
    },
    async (req) => {
      const agent = await callingAgent(req);
      const code = req.body.verification_code.trim();
      if (!CODE_RE.test(code))
        throw new ApiError('invalid_request', 'verification_code is the 6-digit code from the email.');
      const refusal = await orgRefusal(db, agent.org_id);
      if (refusal || (await isSuspended(db, agent.org_id))) {
        const r: Refusal = refusal ?? { blockId: '', reason: 'org_blocked' };
        if (refusal)
          await recordBlockedAttempt(db, clock, {
            refusal,
            ip: req.ip,
            emailDomain: emailDomain(agent.human_email),
            orgId: agent.org_id,
          });
        throw blocked(r);
      }
      const out = await db.transaction().execute((trx) =>
        verifyCode(trx, clock, actorOf(req), {
          agentId: agent.id,
          code,
          scopes: config.agentPlans.free.scopes,
        }),
      );
      if (!out.ok) {
        switch (out.reason) {
          case 'wrong_code':
            throw new ApiError(
              'invalid_code',
              out.attemptsRemaining > 0
                ? `The code is wrong; ${out.attemptsRemaining} attempts left.`
                : 'The code is wrong, and no attempts are left: sign up again for a new code.',
              { extra: { attempts_remaining: out.attemptsRemaining } },
            );
          case 'locked':
            throw new ApiError(
              'verification_locked',
              `${MAX_CODE_ATTEMPTS} wrong codes: sign up again for a new code, or ask the person to approve the agent from the email.`,
              { extra: { attempts_remaining: 0 } },
            );
          case 'expired':
            throw new ApiError(
              'code_expired',
              `The code is older than ${CODE_TTL_MS / 60_000} minutes: sign up again for a new one.`,
            );
          case 'already_claimed':
            throw new ApiError('conflict', 'This agent is already claimed.');
          case 'closed':
            throw invalidCredential();
        }
      }
      if (out.claimed.keyHash) await deps.auth.changed({ token: out.claimed.keyHash });
      await deps.auth.changed({ user: out.claimed.userId });
      const harness = knownHarness(agent.harness);
      return {
        status: 'claimed' as const,
        scopes_upgraded: [...agentRights(config.agentPlans, catalogue, 'claimed').allowed],
        mcp_install_url: installUrl(config.publicUrl, agent.harness),
        install_hint: installHint(harness, servers),
      };
    },
  );

  app.get(
    '/api/v1/agent-signup/status',
    {
      config: { auth: 'user', credentials: ['svc_agent'] },
      schema: { tags: ['agents'], response: { 200: Status } },
    },
    async (req) => {
      const agent = await callingAgent(req);
      const claimed = agent.status === 'claimed';
      return {
        claim_status: claimed ? ('claimed' as const) : ('unclaimed' as const),
        restrictions: restrictionsShape(agentRights(config.agentPlans, catalogue, agent.status)),
        entitlements: { plan: AGENT_PLAN, mcp_install_ready: claimed && servers.length > 0 },
      };
    },
  );

  const llms = llmsTxt(config, catalogue);
  app.get('/llms.txt', { config: { auth: 'none' }, schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/plain; charset=utf-8').header('cache-control', 'public, max-age=300').send(llms),
  );

  orgAgentRoutes(app, deps);
  await app.register(async (scope) => agentPageRoutes(scope as unknown as App, deps));
}
