import type { Resource } from '../tokens/catalogue.js';

/**
 * The agent harnesses Latchkey gives tailored install guidance for. Any other short identifier is
 * accepted at signup and gets the generic guidance (`other`).
 */
export const HARNESSES = [
  'cursor',
  'claude-code',
  'claude-desktop',
  'codex',
  'windsurf',
  'vscode',
  'zed',
  'gemini-cli',
  'goose',
  'cline',
  'continue',
  'other',
] as const;
export type Harness = (typeof HARNESSES)[number];

/** What `harness` may be at signup: a short identifier, compared in lowercase. */
export const HARNESS_MAX = 40;
export const HARNESS_RE = /^[a-z0-9][a-z0-9._-]{0,39}$/;

export const HARNESS_NAMES: Record<Harness, string> = {
  cursor: 'Cursor',
  'claude-code': 'Claude Code',
  'claude-desktop': 'Claude Desktop',
  codex: 'Codex',
  windsurf: 'Windsurf',
  vscode: 'VS Code',
  zed: 'Zed',
  'gemini-cli': 'Gemini CLI',
  goose: 'Goose',
  cline: 'Cline',
  continue: 'Continue',
  other: 'Other MCP clients',
};

/** The tailored harness for an identifier an agent gave (any case); `other` when there is none. */
export function knownHarness(id: string | null | undefined): Harness {
  const h = id?.toLowerCase();
  return HARNESSES.find((k) => k === h) ?? 'other';
}

/** How a harness is named to people: its product name, or the identifier the agent gave. */
export function harnessName(id: string): string {
  const h = knownHarness(id);
  return h === 'other' && id.toLowerCase() !== 'other' ? id : HARNESS_NAMES[h];
}

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
  /** A command to run or a file fragment to merge (empty when the deeplinks do it all). */
  readonly snippet: string;
  /** One-click installs, one per server, for hosts that register a URL handler (Cursor, VS Code). */
  readonly deeplinks?: readonly { readonly name: string; readonly url: string }[];
}

/** Cursor's install link: the server's mcp.json entry, base64-encoded (cursor.com/docs/mcp/install-links). */
function cursorDeeplink(s: McpServer): string {
  const entry = {
    url: s.url,
    ...(s.takesKey ? { headers: { Authorization: `Bearer \${env:${KEY_ENV}}` } } : {}),
  };
  const config = Buffer.from(JSON.stringify(entry)).toString('base64');
  return `cursor://anysphere.cursor-deeplink/mcp/install?name=${encodeURIComponent(s.name)}&config=${encodeURIComponent(config)}`;
}

/** VS Code's install link: `vscode:mcp/install?` and the server's definition as URL-encoded JSON. */
function vscodeDeeplink(s: McpServer): string {
  const entry = {
    name: s.name,
    type: 'http',
    url: s.url,
    ...(s.takesKey
      ? {
          headers: { Authorization: 'Bearer ${input:latchkey-key}' },
          inputs: [
            { type: 'promptString', id: 'latchkey-key', description: 'Latchkey agent key', password: true },
          ],
        }
      : {}),
  };
  return `vscode:mcp/install?${encodeURIComponent(JSON.stringify(entry))}`;
}

/** How to add `servers` to `harness`. */
export function installStep(harness: Harness, servers: readonly McpServer[]): InstallStep {
  const header = `Bearer \${env:${KEY_ENV}}`;
  switch (harness) {
    case 'cursor':
      return {
        where: 'Open each link to add the server to Cursor:',
        snippet: '',
        deeplinks: servers.map((s) => ({ name: s.name, url: cursorDeeplink(s) })),
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
        where:
          'Open each link to add the server to VS Code (it asks for your agent key where one is needed):',
        snippet: '',
        deeplinks: servers.map((s) => ({ name: s.name, url: vscodeDeeplink(s) })),
      };
    case 'claude-desktop':
      return {
        where:
          'Merge into claude_desktop_config.json (Settings → Developer → Edit Config); mcp-remote bridges to the HTTP server:',
        snippet: json({
          mcpServers: Object.fromEntries(
            servers.map((s) => [
              s.name,
              {
                command: 'npx',
                args: [
                  '-y',
                  'mcp-remote',
                  s.url,
                  ...(s.takesKey ? ['--header', 'Authorization:Bearer ${' + KEY_ENV + '}'] : []),
                ],
                ...(s.takesKey ? { env: { [KEY_ENV]: '<your agent key>' } } : {}),
              },
            ]),
          ),
        }),
      };
    case 'zed':
      return {
        where: "Merge into Zed's settings.json:",
        snippet: json({
          context_servers: Object.fromEntries(
            servers.map((s) => [
              s.name,
              {
                url: s.url,
                ...(s.takesKey ? { headers: { Authorization: 'Bearer <your agent key>' } } : {}),
              },
            ]),
          ),
        }),
      };
    case 'gemini-cli':
      return {
        where: 'Run:',
        snippet: servers
          .map(
            (s) =>
              `gemini mcp add --transport http ${shellQuote(s.name)} ${shellQuote(s.url)}${s.takesKey ? ` --header "Authorization: Bearer $${KEY_ENV}"` : ''}`,
          )
          .join('\n'),
      };
    case 'goose':
      return {
        where:
          'Add under extensions: in ~/.config/goose/config.yaml (or goose configure → Add Extension → Remote):',
        snippet: servers
          .map(
            (s) =>
              `${s.name}:\n  name: ${JSON.stringify(s.name)}\n  type: streamable_http\n  uri: ${JSON.stringify(s.url)}\n  enabled: true${s.takesKey ? `\n  headers:\n    Authorization: "Bearer <your agent key>"` : ''}`,
          )
          .join('\n'),
      };
    case 'cline':
      return {
        where: 'Merge into cline_mcp_settings.json (Cline → MCP Servers → Configure):',
        snippet: json({
          mcpServers: Object.fromEntries(
            servers.map((s) => [
              s.name,
              {
                type: 'streamableHttp',
                url: s.url,
                ...(s.takesKey ? { headers: { Authorization: 'Bearer <your agent key>' } } : {}),
              },
            ]),
          ),
        }),
      };
    case 'continue':
      return {
        where: 'Save as .continue/mcpServers/latchkey.yaml in the workspace:',
        snippet: [
          'name: Latchkey MCP servers',
          'version: 0.0.1',
          'schema: v1',
          'mcpServers:',
          ...servers.map(
            (s) =>
              `  - name: ${JSON.stringify(s.name)}\n    type: streamable-http\n    url: ${JSON.stringify(s.url)}${s.takesKey ? `\n    requestOptions:\n      headers:\n        Authorization: "Bearer \${{ secrets.${KEY_ENV} }}"` : ''}`,
          ),
        ].join('\n'),
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
  const links = (step.deeplinks ?? []).map((d) => `${d.name}: ${d.url}`);
  return [step.where, ...links, ...(step.snippet ? [step.snippet] : [])].join('\n') + key;
}
