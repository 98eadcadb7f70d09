/**
 * The shapes of Latchkey's API answers that its clients read, as the server's route schemas
 * declare them (`GET /api/openapi.json`). Timestamps are ISO 8601 strings.
 */
import type { Permission, Role } from './vocabulary.js';

/** A cursor-paginated list: pass `next_cursor` back as `cursor` until it is null. */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export interface User {
  id: string;
  email: string;
  name: string;
}

/** An org as a member sees it: its identity and the person's role there. */
export interface OrgRef {
  id: string;
  slug: string;
  name: string;
  role: Role;
}

/** An org as `/api/v1/me` lists it: the role there and what this credential may do (role ∩ scopes). */
export interface MeOrg extends OrgRef {
  permissions: Permission[];
}

/** `GET /api/v1/me`: who is calling, in which org, with which credential. */
export interface Me {
  user: User | null;
  /** The org the request acts in (`x-org-id`, or the one an org-bound credential belongs to). */
  org: MeOrg | null;
  orgs: MeOrg[];
  /** Whether the person has proven their address (until then: no tokens, no OAuth apps). */
  email_verified: boolean;
  credential: { kind: string; prefix?: string; scopes?: string[] };
}

/** `GET /api/v1/org`. */
export interface OrgDetails extends OrgRef {
  created_at: string;
}

export interface Member {
  user_id: string;
  email: string;
  name: string;
  role: Role;
  joined_at: string;
}

export interface Invitation {
  id: string;
  email: string;
  role: Role;
  status: 'pending';
  invited_by: string | null;
  created_at: string;
  expires_at: string;
  /** In the answer to a create: whether the invitation mail went out. */
  email_sent?: boolean;
}

/** A Latchkey API token (`/api/v1/tokens`, `/api/v1/org/tokens`); never its secret, but once. */
export interface ApiToken {
  id: string;
  /** `pat`, `svc` or `org`. */
  type: string;
  /** The plaintext: only in the answer to a mint, once. */
  token?: string;
  prefix: string;
  name: string | null;
  scopes: string[];
  org_id: string | null;
  created_at: string;
  expires_at: string | null;
  created_by: string;
  /** In lists. */
  last_used_at?: string | null;
  /** On mint only: says in words that the secret is shown once. */
  warning?: string;
}

/** An org's audit log entry (`GET /api/v1/audit`). */
export interface AuditEvent {
  id: string;
  org_id: string | null;
  actor: string;
  action: string;
  target: string | null;
  ip: string | null;
  user_agent: string | null;
  created_at: string;
  data: Record<string, unknown>;
}

/** Who did something in a person's own activity log: themselves, another person, a credential… */
export type ActivityActorKind = 'you' | 'person' | 'credential' | 'anonymous' | 'system';

/** One event of a person's own activity log (`GET /api/v1/me/activity`), newest first. */
export interface ActivityEvent {
  id: string;
  /** `user.signin`, `session.revoked`, `token.created`… */
  action: string;
  created_at: string;
  /** The org the event happened in, if any (its name is null once the org is gone). */
  org: { id: string; name: string | null } | null;
  actor: { kind: ActivityActorKind; name: string | null };
  ip: string | null;
  /** The browser or client, from the user agent. */
  device: string | null;
  details: Record<string, unknown>;
}

/** A GitHub or Google account that signs a person in (`GET /api/v1/me/identities`). */
export interface Identity {
  id: string;
  provider: 'github' | 'google';
  email: string | null;
  email_verified: boolean;
  created_at: string;
}

/** `GET /api/v1/me/identities`: every linked account at once, and whether a password is set too. */
export interface IdentityList extends Page<Identity> {
  next_cursor: null;
  has_password: boolean;
}

/** A browser session of the signed-in person (`GET /api/auth/sessions`). */
export interface Session {
  id: string;
  ip: string | null;
  user_agent: string | null;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  /** The session making this request. */
  current: boolean;
}

export type ClientType = 'public' | 'confidential';

/** An org's OAuth app (`/api/v1/oauth/clients`). */
export interface OAuthApp {
  id: string;
  client_id: string;
  name: string;
  type: ClientType;
  redirect_uris: string[];
  scopes: string[] | null;
  grant_types: string[];
  token_endpoint_auth_method: string;
  /** A confidential app's secret: only in the answer to a create or a secret rotation. */
  client_secret?: string;
  created_by: string;
  created_at: string;
  post_logout_redirect_uris?: string[];
  id_token_signed_response_alg?: string;
}

/** What a person approved an OAuth client to do for them in an org (`GET /api/v1/me/grants`). */
export interface Grant {
  id: string;
  client_id: string;
  client_name: string;
  org_id: string;
  org_name: string;
  user_id: string;
  resource: string;
  scopes: string[];
  created_at: string;
  updated_at: string;
}

/** `POST /api/v1/agent-signup`: an agent's own account, answered once with its key. */
export interface AgentSignup {
  api_key: string;
  org_id: string;
  agent_id: string;
  status: string;
  email_address: string | null;
  /** Where to install the MCP servers (servers that predate it leave it out). */
  mcp_install_url?: string;
}

/** `POST /api/v1/agent-signup/verify`: the agent's code was accepted. */
export interface AgentVerify {
  status: string;
  scopes_upgraded?: string[];
  mcp_install_url?: string;
  install_hint?: string;
}

/** `GET /api/v1/agent-signup/status`: what the agent may do, and whether a person claimed it. */
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

/** A webhook endpoint (`/api/v1/org/webhooks`, or the instance's: `/api/v1/admin/webhooks`). */
export interface WebhookEndpoint {
  id: string;
  url: string;
  description: string;
  /** Event types (`member.added`), families (`member.*`) or `*`. */
  events: string[];
  enabled: boolean;
  /** `failing`: disabled after failing for the whole retry window. */
  disabled_reason: string | null;
  failing_since: string | null;
  created_at: string;
  updated_at: string;
  /** The signing secret (`whsec_…`): only in the answer to a create or a secret rotation, once. */
  secret?: string;
}

/** One event's delivery to a webhook endpoint (`GET …/webhooks/:id/deliveries`). */
export interface WebhookDelivery {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  next_attempt_at: string | null;
  last_attempt_at: string | null;
  /** The receiver's HTTP status at the last attempt, if it answered. */
  response_status: number | null;
  /** Why the last attempt failed: `http_<status>`, `timeout`, `network`, `forbidden_address`… */
  error: string | null;
  created_at: string;
}
