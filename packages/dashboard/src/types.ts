/** The wire shapes the dashboard reads (a subset of GET /api/openapi.json). */

export type Role = 'owner' | 'admin' | 'member' | 'billing';
export const ROLES: readonly Role[] = ['owner', 'admin', 'member', 'billing'];

export interface User {
  id: string;
  email: string;
  name: string;
}

/** What a request may do inside an org; roles grant sets of them (the server's role table). */
export type Permission =
  | 'org:read'
  | 'org:update'
  | 'org:delete'
  | 'org:transfer'
  | 'members:read'
  | 'members:manage'
  | 'invitations:manage'
  | 'audit:read'
  | 'billing:read'
  | 'tokens:manage'
  | 'oauth:manage';

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

export interface Me {
  user: User | null;
  org: MeOrg | null;
  orgs: MeOrg[];
  /** Whether the person has proven their address (older servers do not say). */
  email_verified?: boolean;
  credential: { kind: string; prefix?: string; scopes?: string[] };
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
  email_sent?: boolean;
}

export interface ApiToken {
  id: string;
  type: string;
  /** Only in the answer to a mint. */
  token?: string;
  prefix: string;
  name: string | null;
  scopes: string[];
  org_id: string | null;
  created_at: string;
  expires_at: string | null;
  created_by: string;
  last_used_at?: string | null;
}

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

export interface Session {
  id: string;
  ip: string | null;
  user_agent: string | null;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  current: boolean;
}

export interface OrgDetails extends OrgRef {
  created_at: string;
}

export type ClientType = 'public' | 'confidential';

export interface OAuthApp {
  id: string;
  client_id: string;
  name: string;
  type: ClientType;
  redirect_uris: string[];
  scopes: string[] | null;
  grant_types: string[];
  token_endpoint_auth_method: string;
  client_secret?: string;
  created_by: string;
  created_at: string;
}

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
