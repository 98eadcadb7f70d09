import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { z } from 'zod';

/** The scope a call to each tool needs. Any other request (initialize, tools/list, …) needs `BASE_SCOPE`. */
export const TOOL_SCOPES = {
  list_notes: 'mcp:read',
  run_job: 'mcp:run',
  deploy: 'mcp:act',
} as const;

export type ToolName = keyof typeof TOOL_SCOPES;

export const BASE_SCOPE = 'mcp:read';

/**
 * Every scope this server uses, advertised as `scopes_supported` in its resource metadata: what a
 * client asks for when the 401 names no scope.
 */
export const SCOPES: readonly string[] = [...new Set([BASE_SCOPE, ...Object.values(TOOL_SCOPES)])];

/**
 * The scopes a JSON-RPC message (or batch) needs: a `tools/call` its tool's scope, anything else
 * `BASE_SCOPE`. An unknown tool needs `BASE_SCOPE`; the MCP server then answers that it has no such tool.
 */
export function requiredScopes(body: unknown): string[] {
  const messages: unknown[] = Array.isArray(body) ? body : [body];
  const needed = new Set<string>();
  for (const m of messages) {
    const msg = (typeof m === 'object' && m !== null ? m : {}) as {
      method?: unknown;
      params?: { name?: unknown };
    };
    const tool = msg.method === 'tools/call' ? msg.params?.name : undefined;
    needed.add(
      typeof tool === 'string' && Object.hasOwn(TOOL_SCOPES, tool)
        ? TOOL_SCOPES[tool as ToolName]
        : BASE_SCOPE,
    );
  }
  if (needed.size === 0) needed.add(BASE_SCOPE);
  return [...needed];
}

const NOTES = [
  { id: 'n1', title: 'Release checklist', body: 'Tag, build, run the smoke tests, deploy to staging.' },
  { id: 'n2', title: 'On-call', body: 'Page the platform team for anything that touches billing.' },
];

const text = (value: unknown) => ({ content: [{ type: 'text' as const, text: JSON.stringify(value) }] });

/** Who the call speaks for, as the HTTP layer recorded it from the verified token. */
const callerOf = (auth: AuthInfo | undefined) => ({
  user: String(auth?.extra?.sub ?? ''),
  org: String(auth?.extra?.org_id ?? ''),
});

/**
 * A fresh MCP server with the example's tools. The scope checks happen before a request reaches
 * it (see `server.ts`), so the tools themselves only do their work.
 */
export function buildMcpServer(): McpServer {
  const server = new McpServer({ name: 'latchkey-example', version: '0.1.0' });

  server.registerTool(
    'list_notes',
    {
      description: `List the team's notes. Needs ${TOOL_SCOPES.list_notes}.`,
      annotations: { readOnlyHint: true },
    },
    async () => text({ notes: NOTES }),
  );

  server.registerTool(
    'run_job',
    {
      description: `Queue a CI job. Needs ${TOOL_SCOPES.run_job}.`,
      inputSchema: { job: z.enum(['build', 'test', 'lint']) },
    },
    async ({ job }, extra) =>
      text({ job, id: `job_${randomUUID()}`, status: 'queued', by: callerOf(extra.authInfo).user }),
  );

  server.registerTool(
    'deploy',
    {
      description: `Deploy the current build. Needs ${TOOL_SCOPES.deploy} (high risk: the person must tick it).`,
      inputSchema: { environment: z.enum(['staging', 'production']) },
      annotations: { destructiveHint: true },
    },
    async ({ environment }, extra) => text({ environment, status: 'deployed', ...callerOf(extra.authInfo) }),
  );

  return server;
}
