import type { Resource } from '../oauth/catalogue.js';

/** The agent harnesses Latchkey gives install guidance for. */
export const HARNESSES = ['cursor', 'claude-code', 'codex', 'windsurf', 'vscode', 'other'] as const;
export type Harness = (typeof HARNESSES)[number];

export const HARNESS_NAMES: Record<Harness, string> = {
  cursor: 'Cursor',
  'claude-code': 'Claude Code',
  codex: 'Codex',
  windsurf: 'Windsurf',
  vscode: 'VS Code',
  other: 'Other MCP clients',
};

/** The environment variable the snippets read the agent's key from; the key itself is never shown. */
export const KEY_ENV = 'LATCHKEY_API_KEY';

/** An MCP server an agent can add: a configured resource (not Latchkey's own API). */
export interface McpServer {
  readonly name: string;
  readonly title: string;
  readonly url: string;
  /** It takes the agent's key as a bearer token; otherwise the client signs in by OAuth. */
  readonly takesKey: boolean;
}

export function mcpServers(resources: readonly Resource[]): McpServer[] {
  return resources
    .filter((r) => !r.builtin)
    .map((r) => ({ name: r.id, title: r.name, url: r.url, takesKey: r.acceptApiTokens }));
}

export function installUrl(publicUrl: string, harness: string | null): string {
  return `${publicUrl}/agents/install?harness=${encodeURIComponent(harness ?? 'other')}`;
}

const json = (v: unknown) => JSON.stringify(v, null, 2);
const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Where a harness keeps its MCP configuration, and what to put there. */
export interface InstallStep {
  /** What to do, in one line. */
  readonly where: string;
  /** A command to run or a file fragment to merge. */
  readonly snippet: string;
}

/** How to add `servers` to `harness`. */
export function installStep(harness: Harness, servers: readonly McpServer[]): InstallStep {
  const header = `Bearer \${env:${KEY_ENV}}`;
  switch (harness) {
    case 'cursor':
      return {
        where: 'Merge into ~/.cursor/mcp.json (or .cursor/mcp.json in the project):',
        snippet: json({
          mcpServers: Object.fromEntries(
            servers.map((s) => [
              s.name,
              { url: s.url, ...(s.takesKey ? { headers: { Authorization: header } } : {}) },
            ]),
          ),
        }),
      };
    case 'claude-code':
      return {
        where: 'Run:',
        snippet: servers
          .map(
            (s) =>
              `claude mcp add --transport http ${shellQuote(s.name)} ${shellQuote(s.url)}${s.takesKey ? ` --header "Authorization: Bearer $${KEY_ENV}"` : ''}`,
          )
          .join('\n'),
      };
    case 'codex':
      return {
        where: 'Add to ~/.codex/config.toml:',
        snippet: servers
          .map(
            (s) =>
              `[mcp_servers.${JSON.stringify(s.name)}]\nurl = ${JSON.stringify(s.url)}${s.takesKey ? `\nbearer_token_env_var = "${KEY_ENV}"` : ''}`,
          )
          .join('\n\n'),
      };
    case 'windsurf':
      return {
        where: 'Merge into ~/.codeium/windsurf/mcp_config.json:',
        snippet: json({
          mcpServers: Object.fromEntries(
            servers.map((s) => [
              s.name,
              { serverUrl: s.url, ...(s.takesKey ? { headers: { Authorization: header } } : {}) },
            ]),
          ),
        }),
      };
    case 'vscode':
      return {
        where: 'Merge into .vscode/mcp.json in the workspace:',
        snippet: json({
          servers: Object.fromEntries(
            servers.map((s) => [
              s.name,
              {
                type: 'http',
                url: s.url,
                ...(s.takesKey ? { headers: { Authorization: 'Bearer ${input:latchkey-key}' } } : {}),
              },
            ]),
          ),
          ...(servers.some((s) => s.takesKey)
            ? {
                inputs: [
                  {
                    type: 'promptString',
                    id: 'latchkey-key',
                    description: 'Latchkey agent key',
                    password: true,
                  },
                ],
              }
            : {}),
        }),
      };
    case 'other':
      return {
        where: 'Add each as a Streamable HTTP MCP server:',
        snippet: servers
          .map(
            (s) =>
              `${s.name}: ${s.url}${s.takesKey ? ` (header Authorization: Bearer <your agent key>)` : ' (sign in with OAuth)'}`,
          )
          .join('\n'),
      };
  }
}

/** One string for the agent's own harness: what the CLI prints after verification. */
export function installHint(harness: Harness, servers: readonly McpServer[]): string {
  if (servers.length === 0) return 'No MCP servers are configured on this Latchkey yet.';
  const step = installStep(harness, servers);
  const key = servers.some((s) => s.takesKey)
    ? `\nSet ${KEY_ENV} to your agent key first; it is the credential for these servers.`
    : '';
  return `${step.where}\n${step.snippet}${key}`;
}
