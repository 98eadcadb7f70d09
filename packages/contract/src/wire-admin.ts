/**
 * The shapes of Latchkey's management API answers that the dashboard reads: the agents a person
 * oversees, an org's SCIM, SSO and two-factor settings, and the instance's people, sign-up policy
 * and waitlist (`/api/v1/admin/*`), as the server's route schemas declare them. Timestamps are
 * ISO 8601 strings.
 */
import type { Role } from './vocabulary.js';

/** A role SSO or SCIM gives a person in an org: any but `owner`. */
export type ProvisionedRole = Exclude<Role, 'owner'>;

/** Where an agent's claim stands: waiting for its person, approved, denied, or revoked after. */
export type AgentClaimStatus = 'unclaimed' | 'claimed' | 'denied' | 'revoked';

/** What an agent may do: its scopes and its plan's limits (a negative limit is no limit). */
export interface AgentRestrictions {
  allowed_scopes: string[];
  blocked_scopes: string[];
  mcp_calls_per_day: number;
  guard_runs_per_month: number;
  /** Every limit of the plan (the two above among them), with its period. */
  limits: Record<string, { limit: number; period: 'day' | 'month' }>;
}

/** An agent that signed up (`/api/v1/agents`, `/api/v1/org/agents`, and their approve and deny). */
export interface Agent {
  id: string;
  org_id: string;
  /** In the list across orgs (`GET /api/v1/agents`): the org's name. */
  org_name?: string;
  display_name: string;
  note_to_human: string | null;
  harness: string | null;
  human_email: string;
  status: AgentClaimStatus;
  key_prefix: string;
  created_at: string;
  claimed_at: string | null;
  claimed_by: string | null;
  restrictions: AgentRestrictions;
}

/** `GET /api/v1/org/scim`: the org's SCIM endpoint, its secret (never the secret) and last sync. */
export interface ScimConnection {
  endpoint_url: string;
  token_exists: boolean;
  token_prefix: string | null;
  token_created_at: string | null;
  last_sync_at: string | null;
  last_sync_result: 'success' | 'failure' | null;
  /** HTTP status of the last SCIM request. */
  last_sync_status: number | null;
}

/** `POST /api/v1/org/scim/token`: the SCIM secret, shown once; `rotated` when it replaced one. */
export interface ScimSecret {
  token: string;
  prefix: string;
  endpoint_url: string;
  rotated: boolean;
}

/** A group the identity provider pushed over SCIM, and the role its members get (null: none). */
export interface ScimGroup {
  id: string;
  display_name: string;
  external_id: string | null;
  role: ProvisionedRole | null;
  members: number;
  created_at: string;
}

export type SsoKind = 'oidc' | 'saml';

/** An org's SSO connection (`/api/v1/org/sso/connections`); secrets only as whether they are set. */
export interface SsoConnection {
  id: string;
  kind: SsoKind;
  name: string;
  enabled: boolean;
  /** The role a person gets when SSO creates their membership. */
  default_role: ProvisionedRole;
  oidc: {
    issuer: string | null;
    client_id: string | null;
    client_secret_set: boolean;
    redirect_uri: string;
  } | null;
  saml: {
    metadata_url: string | null;
    metadata_xml_set: boolean;
    idp_entity_id: string | null;
    idp_sso_url: string | null;
    sp_entity_id: string;
    sp_metadata_url: string;
    acs_url: string;
  } | null;
  test: { result: 'pass' | 'fail' | null; detail: string | null; tested_at: string | null };
  created_at: string;
}

/** `GET /api/v1/org/sso`: the org's SSO settings. */
export interface SsoSettings {
  sso_enforced: boolean;
  status_page_url: string | null;
  /** Whether members are refused other sign-ins now: enforced and a connection is enabled. */
  enforcement_active: boolean;
  /** SSO creates accounts and memberships at first sign-in (emails at verified domains only). */
  jit_provisioning: boolean;
}

/** A domain an org claims for SSO (`/api/v1/org/sso/domains`), proven by a DNS TXT record. */
export interface SsoDomain {
  domain: string;
  verified: boolean;
  verified_at: string | null;
  /** When the record was last looked up by the daily re-check (or the verification). */
  last_checked_at: string | null;
  /** The TXT record that proves control; null once verified. */
  challenge: { name: string; type: 'TXT'; value: string } | null;
  created_at: string;
}

/** `/api/v1/org/mfa`: whether the org requires a second factor of its members, after a grace period. */
export interface OrgMfa {
  mfa_required: boolean;
  /** Days a member without a factor may still sign in after the requirement starts. */
  grace_days: number;
  required_at: string | null;
  grace_ends_at: string | null;
}

/** Who may create an account on the instance. */
export type SignupPolicy = 'open' | 'invite-only' | 'waitlist';

/** `/api/v1/admin/signup-policy`: the instance's sign-up policy and its last change. */
export interface SignupPolicySetting {
  policy: SignupPolicy;
  updated_at: string | null;
  updated_by: string | null;
}

export type WaitlistStatus = 'pending' | 'approved' | 'denied';

/** A request to join the instance under the waitlist policy (`/api/v1/admin/waitlist`). */
export interface WaitlistEntry {
  id: string;
  email: string;
  name: string | null;
  /** The way the person tried to sign up: `password`, `magic_link`, `github`, `google`… */
  via: string;
  status: WaitlistStatus;
  created_at: string;
  decided_at: string | null;
  /** When the person created their account with the approval. */
  joined_at: string | null;
  /** In the answer to an approve: whether the mail with the link to create the account went out. */
  email_sent?: boolean;
}

/** A person as the instance's user list shows them (`GET /api/v1/admin/users`). */
export interface AdminUserSummary {
  id: string;
  email: string;
  name: string;
  created_at: string;
  email_verified: boolean;
  disabled_at: string | null;
  instance_admin: boolean;
  has_password: boolean;
  last_sign_in_at: string | null;
}

/** `GET /api/v1/admin/users/:id` and the answers of the actions on a person. */
export interface AdminUserDetail extends AdminUserSummary {
  orgs: { id: string; slug: string; name: string; role: Role; joined_at: string }[];
  sessions: {
    id: string;
    ip: string | null;
    user_agent: string | null;
    created_at: string;
    last_seen_at: string;
    expires_at: string;
  }[];
  identities: { provider: string; created_at: string }[];
  factors: { totp: boolean; passkeys: number; recovery_codes: number };
  passkeys: { id: string; name: string; created_at: string; last_used_at: string | null }[];
}

/** `POST /api/v1/admin/users/:id/password-reset`: whether the reset mail went out. */
export interface AdminPasswordReset {
  email_sent: boolean;
}
