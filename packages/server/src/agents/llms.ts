import type { Config } from '../config/index.js';
import type { Catalogue } from '../tokens/catalogue.js';
import { HARNESSES, installUrl, KEY_ENV, mcpServers } from './install.js';
import {
  AGENT_SIGNUPS_PER_IP_PER_HOUR,
  CODE_TTL_MS,
  DISPLAY_NAME_MAX,
  MAX_CODE_ATTEMPTS,
  NOTE_MAX,
  PENDING_SIGNUPS_PER_EMAIL,
} from './limits.js';
import { type AgentRights, agentRights } from './rights.js';

const list = (xs: readonly string[]) => (xs.length ? xs.map((x) => `\`${x}\``).join(', ') : 'none');

const limitLines = (r: AgentRights) =>
  r.limits.map(
    (l) => `  - \`${l.name}\`: ${l.limit} per ${l.period === 'day' ? 'UTC day' : 'calendar month (UTC)'}`,
  );

/**
 * `/llms.txt` (llmstxt.org): how an AI agent signs itself up, verifies, checks its status, and what
 * scopes and limits apply — written from the running configuration, so it never disagrees with it.
 */
export function llmsTxt(config: Config, catalogue: Catalogue): string {
  const base = config.publicUrl;
  const unclaimed = agentRights(config.agentPlans, catalogue, 'unclaimed');
  const claimed = agentRights(config.agentPlans, catalogue, 'claimed');
  const servers = mcpServers(catalogue.resources);
  const days = config.agentPlans.unclaimedDeleteAfterDays;
  return `# Latchkey

> Identity and access for people and AI agents at ${base}. An AI agent can sign itself up, get an
> API key at once, and work with restricted scopes until the human it names approves it.

## Agent signup

1. Sign up (no credential): \`POST ${base}/api/v1/agent-signup\` with JSON
   \`{"human_email": "…", "display_name": "…", "note_to_human": "…", "harness": "…"}\`.
   - \`human_email\` (required): the person who approves you; they get a ${CODE_TTL_MS / 60_000}-minute, 6-digit code by email.
   - \`display_name\` (required, at most ${DISPLAY_NAME_MAX} characters), \`note_to_human\` (optional, at most ${NOTE_MAX}).
   - \`harness\` (optional): a short identifier of your runtime; tailored install guidance for ${list(HARNESSES.filter((h) => h !== 'other'))}.
   - The answer (201) holds \`api_key\` (shown once: store it, e.g. in \`${KEY_ENV}\`), \`org_id\`, \`agent_id\`, \`status: "unclaimed"\` and \`mcp_install_url\`.
2. Verify: ask the human for the code, then \`POST ${base}/api/v1/agent-signup/verify\` with
   \`Authorization: Bearer <api_key>\` and \`{"verification_code": "123456"}\`. ${MAX_CODE_ATTEMPTS} wrong codes lock verification; sign up again for a new code.
   The human may instead approve you from the link in their email.
3. Status: \`GET ${base}/api/v1/agent-signup/status\` with the same bearer key: \`claim_status\`, \`restrictions\` (scopes and limits) and \`entitlements\`.

Errors are RFC 9457 problem details; match on \`code\`. \`429\` carries \`Retry-After\`. \`403 agent_signup_blocked\` (with \`reason\`: \`ip_blocked\`, \`email_domain_blocked\` or \`org_blocked\`) means the operator blocked the signup: do not retry.

## Scopes and limits

- Before verification (unclaimed): scopes ${list(unclaimed.allowed)}; blocked ${list(unclaimed.blocked)}.
${limitLines(unclaimed).join('\n')}
- After verification (claimed, free plan): scopes ${list(claimed.allowed)}; blocked ${list(claimed.blocked)}.
${limitLines(claimed).join('\n')}
- High-risk scopes always need a person's explicit OAuth consent.
- At most ${AGENT_SIGNUPS_PER_IP_PER_HOUR} signups per IP address an hour, and ${PENDING_SIGNUPS_PER_EMAIL} pending signups per human at a time.
${days > 0 ? `- An agent never verified is deleted, with its org and key, ${days} days after signing up.\n` : ''}
## MCP servers

${
  servers.length
    ? servers
        .map(
          (s) =>
            `- ${s.title}: ${s.url} (${s.takesKey ? 'takes your agent key as a bearer token' : 'OAuth 2.1 sign-in'})`,
        )
        .join('\n')
    : '- None configured yet.'
}
- Install guidance per harness: ${installUrl(base, null)} (add \`?harness=<yours>\`).

## More

- OAuth 2.1 authorization server metadata: ${base}/.well-known/oauth-authorization-server
- OpenAPI description of the management API: ${base}/api/openapi.json
`;
}
