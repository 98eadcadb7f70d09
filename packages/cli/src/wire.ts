/** The shapes of Latchkey's API answers the CLI reads (see the server's OpenAPI document). */

export interface Org {
  id: string;
  slug: string;
  name: string;
  role: string;
  /** In `/api/v1/me`: what the calling credential may do in the org (the role ∩ its scopes). */
  permissions?: string[];
}

export interface Me {
  user: { id: string; email: string; name: string } | null;
  org: Org | null;
  orgs: Org[];
  credential: { kind: string; prefix?: string; scopes?: string[] };
}

export interface ApiToken {
  id: string;
  type: string;
  /** The plaintext: only in the answer to a create, once. */
  token?: string;
  prefix: string;
  name: string | null;
  scopes: string[];
  org_id?: string | null;
  created_at: string;
  expires_at: string | null;
  created_by: string;
  last_used_at?: string | null;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** Harnesses the server tailors install guidance for; any other short identifier is accepted too. */
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
export const HARNESS_RE = /^[a-z0-9][a-z0-9._-]{0,39}$/;

export interface AgentSignup {
  api_key: string;
  org_id: string;
  agent_id: string;
  status: string;
  email_address: string | null;
  /** Where to install the MCP servers (servers that predate it leave it out). */
  mcp_install_url?: string;
}

export interface AgentVerify {
  status: string;
  scopes_upgraded?: string[];
  mcp_install_url?: string;
  install_hint?: string;
}

export interface AgentStatus {
  claim_status: string;
  restrictions?: {
    allowed_scopes?: string[];
    blocked_scopes?: string[];
    mcp_calls_per_day?: number | null;
    guard_runs_per_month?: number | null;
  };
  entitlements?: { plan?: string; mcp_install_ready?: boolean };
}
