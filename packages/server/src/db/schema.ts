import type { ColumnType, Insertable, Selectable, Updateable } from 'kysely';

/** Table types, matching the migrations. Rows are mapped to API shapes in each domain, never spread. */
export type Role = 'owner' | 'admin' | 'member' | 'billing';

type Timestamp = ColumnType<Date, Date, Date>;
type Json = ColumnType<unknown, string | undefined, string>;

export interface UsersTable {
  id: string;
  email: string;
  name: string;
  password_hash: string | null;
  email_verified_at: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** Operator: manages the sign-up policy and the waitlist. */
  instance_admin: ColumnType<boolean, boolean | undefined, boolean>;
  /** An instance admin disabled the account: every credential of it is refused. */
  disabled_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface OrgsTable {
  id: string;
  slug: string;
  name: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  mfa_required: ColumnType<boolean, boolean | undefined, boolean>;
  mfa_grace_days: ColumnType<number, number | undefined, number>;
  mfa_required_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface MembershipsTable {
  org_id: string;
  user_id: string;
  role: Role;
  created_at: Timestamp;
}

export interface SessionsTable {
  id: string;
  token_hash: string;
  user_id: string;
  org_id: string | null;
  ip: string | null;
  user_agent: string | null;
  created_at: Timestamp;
  last_seen_at: Timestamp;
  expires_at: Timestamp;
  revoked_at: Timestamp | null;
  /** RFC 8176 `amr` values, space-separated: how the session was proven. */
  amr: ColumnType<string, string | undefined, string>;
  /** When the session last proved a second factor (step-up). */
  mfa_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** Waiting for a second factor or an enrolment: never a credential. */
  pending: ColumnType<
    'second_factor' | 'enrol' | null,
    'second_factor' | 'enrol' | null | undefined,
    'second_factor' | 'enrol' | null
  >;
  /** The org whose single sign-on opened the session; null for every other sign-in method. */
  sso_org_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface TotpFactorsTable {
  user_id: string;
  secret: string;
  created_at: Timestamp;
  confirmed_at: Timestamp | null;
  last_step: ColumnType<number, number | undefined, number>;
}

export interface RecoveryCodesTable {
  id: string;
  user_id: string;
  code_hash: string;
  created_at: Timestamp;
  used_at: Timestamp | null;
}

export interface PasskeysTable {
  id: string;
  user_id: string;
  credential_id: string;
  public_key: string;
  /** bigint: read as a string. */
  counter: ColumnType<string, number | string | undefined, number | string>;
  transports: ColumnType<string, string | undefined, string>;
  name: string;
  backed_up: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: Timestamp;
  last_used_at: Timestamp | null;
}

export interface MagicLinksTable {
  token_hash: string;
  email: string;
  return_to: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  consumed_at: Timestamp | null;
  /** SHA-256 of the cookie of the browser that asked for the link (null: asked without one). */
  browser_hash: ColumnType<string | null, string | null | undefined, string | null>;
}

/** Single-use links that prove a sign-up's address (hashed, 24 h). */
export interface EmailVerificationsTable {
  token_hash: string;
  user_id: string;
  /** The address the link was sent to: it proves nothing once the account's email changed. */
  email: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  consumed_at: Timestamp | null;
}

/** Browsers that signed in to an account before (SHA-256 of their device cookie). */
/** Single-use links to set a new password (only the hash is stored). */
export interface PasswordResetsTable {
  token_hash: string;
  user_id: string;
  /** The address the link was sent to: it proves nothing once the account's email changed. */
  email: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  consumed_at: Timestamp | null;
}

/** Single-use links that prove a new address before it replaces the account's email. */
export interface EmailChangesTable {
  token_hash: string;
  user_id: string;
  old_email: string;
  new_email: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  consumed_at: Timestamp | null;
}

export interface TrustedDevicesTable {
  user_id: string;
  device_hash: string;
  created_at: Timestamp;
  last_used_at: Timestamp;
  expires_at: Timestamp;
}

export interface InvitationsTable {
  id: string;
  org_id: string;
  email: string;
  role: Role;
  token_hash: string;
  invited_by: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  accepted_at: Timestamp | null;
  accepted_by: string | null;
  revoked_at: Timestamp | null;
}

export interface AuditEventsTable {
  id: string;
  org_id: string | null;
  actor: string;
  action: string;
  target: string | null;
  ip: string | null;
  user_agent: string | null;
  created_at: Timestamp;
  data: Json;
  /** The account the event is about (its activity log); set by `audit()`. */
  subject_user_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface SetupTokensTable {
  token_hash: string;
  created_at: Timestamp;
}

export type ApiTokenKind = 'pat' | 'svc' | 'org' | 'svc_agent';

export interface ApiTokensTable {
  id: string;
  kind: ApiTokenKind;
  token_hash: string;
  prefix: string;
  name: string | null;
  /** JSON array of scope strings; null = everything the holder's role allows. */
  scopes: ColumnType<string[] | null, string | null, string | null>;
  user_id: string | null;
  org_id: string | null;
  role: Role | null;
  created_by: string;
  created_by_user: string | null;
  created_at: Timestamp;
  expires_at: Timestamp | null;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
  revoked_reason: string | null;
  /** The API token that minted this one (revoked with it; bounds it). */
  parent_token_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** The OAuth access token that minted this one (revoked with it; bounds it). */
  parent_oauth_token_id: ColumnType<string | null, string | null | undefined, string | null>;
}

type JsonOf<T> = ColumnType<T, string, string>;

export type OAuthClientKind = 'dcr' | 'cimd' | 'app';
export type ClientAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post';

export interface OAuthClientsTable {
  /** The client_id: `lkc_…` for registered clients and apps, the document URL for CIMD clients. */
  id: string;
  kind: OAuthClientKind;
  org_id: string | null;
  name: string;
  redirect_uris: JsonOf<string[]>;
  auth_method: ClientAuthMethod;
  secret_hash: string | null;
  grant_types: JsonOf<string[]>;
  /** Scopes the client may ask for; null = any in the catalogue. */
  scopes: ColumnType<string[] | null, string | null, string | null>;
  /** Display metadata (client_uri, logo_uri, software_id…), never trusted for decisions. */
  metadata: JsonOf<Record<string, unknown>>;
  created_by: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** CIMD: the fetched document may be used until then. */
  fetched_until: Timestamp | null;
  /** OpenID relying party registration (post_logout_redirect_uris, id_token_signed_response_alg). */
  oidc: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
}

export interface SigningKeysTable {
  kid: string;
  alg: 'ES256' | 'RS256';
  state: 'next' | 'current' | 'retired';
  public_jwk: ColumnType<Record<string, unknown>, string, string>;
  /** The private JWK, sealed with LATCHKEY_SECRET (lib/secret-box.ts). */
  private_jwk: string;
  created_at: Timestamp;
  activated_at: Timestamp | null;
  retired_at: Timestamp | null;
  /** Retired keys: published until then (the last token they signed has expired), then deleted. */
  expires_at: Timestamp | null;
}

export interface OAuthGrantsTable {
  id: string;
  user_id: string;
  org_id: string;
  client_id: string;
  resource: string;
  scopes: JsonOf<string[]>;
  created_at: Timestamp;
  updated_at: Timestamp;
  revoked_at: Timestamp | null;
}

/** An org admin's approval of a client: members skip consent for its scopes that are not high-risk. */
export interface OAuthClientApprovalsTable {
  id: string;
  org_id: string;
  client_id: string;
  approved_by: string;
  created_at: Timestamp;
}

export interface OAuthCodesTable {
  code_hash: string;
  client_id: string;
  grant_id: string;
  user_id: string;
  org_id: string;
  redirect_uri: string;
  resource: string;
  scopes: JsonOf<string[]>;
  code_challenge: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  consumed_at: Timestamp | null;
  family_id: string | null;
  /** An OpenID authentication's ID token inputs (nonce, auth_time, amr, sid, claims); null for plain OAuth. */
  oidc: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
}

export interface OAuthTokensTable {
  id: string;
  kind: 'at' | 'rt';
  token_hash: string;
  prefix: string;
  family_id: string;
  client_id: string;
  grant_id: string | null;
  user_id: string | null;
  org_id: string;
  resource: string;
  scopes: JsonOf<string[]>;
  created_at: Timestamp;
  expires_at: Timestamp;
  rotated_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

export type DeviceCodeStatus = 'pending' | 'approved' | 'denied' | 'consumed';

export interface OAuthDeviceCodesTable {
  id: string;
  device_code_hash: string;
  user_code: string;
  client_id: string;
  resource: string;
  scopes: JsonOf<string[]>;
  status: DeviceCodeStatus;
  user_id: string | null;
  org_id: string | null;
  grant_id: string | null;
  granted_scopes: ColumnType<string[] | null, string | null, string | null>;
  interval_ms: number;
  created_at: Timestamp;
  expires_at: Timestamp;
  last_polled_at: Timestamp | null;
}

export interface RevocationEventsTable {
  id: ColumnType<string, never, never>;
  kind: 'token' | 'user' | 'org';
  value: string;
  created_at: Timestamp;
}

export type IdentityProvider = 'github' | 'google';

export interface IdentitiesTable {
  id: string;
  provider: IdentityProvider;
  /** The provider's stable id for the account (GitHub's numeric id, Google's `sub`). */
  subject: string;
  user_id: string;
  email: string | null;
  email_verified: boolean;
  created_at: Timestamp;
}

export interface InstanceSettingsTable {
  name: string;
  value: string;
  updated_at: Timestamp;
  updated_by: string | null;
}

export type WaitlistStatus = 'pending' | 'approved' | 'denied';

export interface WaitlistTable {
  id: string;
  email: string;
  name: string | null;
  via: string;
  status: WaitlistStatus;
  created_at: Timestamp;
  decided_at: Timestamp | null;
  decided_by: string | null;
  /** SHA-256 of the approval link's token; set while an approval is outstanding. */
  token_hash: string | null;
  expires_at: Timestamp | null;
  used_at: Timestamp | null;
}

export type AgentStatus = 'unclaimed' | 'claimed' | 'denied' | 'revoked';

export interface AgentsTable {
  id: string;
  org_id: string;
  token_id: string;
  display_name: string;
  note_to_human: string | null;
  harness: string | null;
  /** The human overseer, normalised. */
  human_email: string;
  status: AgentStatus;
  /** SHA-256 of the 6-digit code, salted with the agent id; null once claimed or closed. */
  code_hash: string | null;
  code_expires_at: Timestamp;
  failed_attempts: ColumnType<number, number | undefined, number>;
  claimed_by: string | null;
  created_at: Timestamp;
  claimed_at: Timestamp | null;
  /** When it was denied or revoked. */
  closed_at: Timestamp | null;
}

export type AgentBlockKind = 'ip' | 'email_domain' | 'org';

/** An operator's block on agent signup. */
export interface AgentBlocksTable {
  id: string;
  kind: AgentBlockKind;
  /** A CIDR range, a lowercase email domain or an org id. */
  value: string;
  reason: string | null;
  created_by: string;
  created_at: Timestamp;
}

/** A signup a block refused (the overseer's domain only, never the full address). */
export interface AgentBlockedAttemptsTable {
  id: string;
  block_id: string | null;
  reason: string;
  ip: string;
  email_domain: string;
  org_id: string | null;
  created_at: Timestamp;
}

export interface AgentOrgSuspensionsTable {
  org_id: string;
  reason: string | null;
  created_by: string;
  created_at: Timestamp;
}

/** Requests per API token per UTC day. */
export interface ApiTokenUsageTable {
  token_id: string;
  /** `YYYY-MM-DD` (UTC). */
  day: ColumnType<string, string, string>;
  requests: ColumnType<string | number, number, number>;
}

export interface ScimConfigsTable {
  org_id: string;
  /** SHA-256 of the org's SCIM bearer secret; null when SCIM is off. */
  token_hash: string | null;
  token_prefix: string | null;
  token_created_at: Timestamp | null;
  token_created_by: string | null;
  last_sync_at: Timestamp | null;
  last_sync_result: 'success' | 'failure' | null;
  last_sync_status: number | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ScimUsersTable {
  /** The SCIM resource id (one per org and person). */
  id: string;
  org_id: string;
  /** The account; null while the record is pending (waiting on `invitation_id`). */
  user_id: string | null;
  /** The userName the identity provider sent (normalised email): the org's own view. */
  user_name: string;
  /** The invitation a pending record waits on; null once linked (or when none is open). */
  invitation_id: string | null;
  external_id: string | null;
  given_name: string | null;
  family_name: string | null;
  formatted_name: string | null;
  display_name: string | null;
  emails: JsonOf<{ value: string; type?: string; primary?: boolean }[]>;
  version: number;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ScimGroupsTable {
  id: string;
  org_id: string;
  display_name: string;
  external_id: string | null;
  /** The role the group's members get; null maps none. */
  role: Exclude<Role, 'owner'> | null;
  version: number;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ScimGroupMembersTable {
  group_id: string;
  scim_user_id: string;
  org_id: string;
  created_at: Timestamp;
}

export interface SsoSettingsTable {
  org_id: string;
  sso_enforced: boolean;
  status_page_url: string | null;
  /** SSO creates accounts and memberships at first sign-in (emails at verified domains only). */
  jit_provisioning: ColumnType<boolean, boolean | undefined, boolean>;
  updated_at: Timestamp;
}

export interface SsoConnectionsTable {
  id: string;
  org_id: string;
  kind: 'oidc' | 'saml';
  name: string;
  /** Enabled only after a passing test; a later failing test is recorded and leaves it enabled. */
  enabled: boolean;
  /** The role a just-in-time member gets. */
  default_role: Exclude<Role, 'owner'>;
  oidc_issuer: string | null;
  oidc_client_id: string | null;
  /** Needed in plaintext to redeem codes; never returned by the API nor logged. */
  oidc_client_secret: string | null;
  saml_metadata_xml: string | null;
  saml_metadata_url: string | null;
  saml_idp_entity_id: string | null;
  saml_idp_sso_url: string | null;
  /** The IdP's signing certificates (PEM), newline-separated. */
  saml_idp_certs: string | null;
  tested_at: Timestamp | null;
  test_result: 'pass' | 'fail' | null;
  test_detail: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface SsoDomainsTable {
  id: string;
  org_id: string;
  domain: string;
  verified_at: Timestamp | null;
  verified_by: string | null;
  created_at: Timestamp;
  /** The value the TXT record `_latchkey-challenge.<domain>` must hold (public, not a secret). */
  challenge_token: string;
  /** When the daily re-check last resolved the record (null until the first re-check). */
  last_checked_at: Timestamp | null;
  /** When the record was last seen holding the token (at verification, then by re-checks). */
  record_seen_at: Timestamp | null;
}

export interface SsoIdentitiesTable {
  connection_id: string;
  subject: string;
  user_id: string;
  created_at: Timestamp;
}

export interface WebhookEndpointsTable {
  id: string;
  /** null: an instance endpoint (every org's events and the instance's own). */
  org_id: string | null;
  url: string;
  description: ColumnType<string, string | undefined, string>;
  /** JSON array of event types, families (`member.*`) or `*`. */
  events: Json;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  /** The signing secret, sealed with LATCHKEY_SECRET. */
  secret: string;
  failing_since: ColumnType<Date | null, Date | null | undefined, Date | null>;
  disabled_reason: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface WebhookDeliveriesTable {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  /** The exact bytes signed and sent, fixed when the event was enqueued. */
  payload: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Date | null;
  first_attempt_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  lease_until: ColumnType<Date | null, Date | null | undefined, Date | null>;
  last_attempt_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  response_status: ColumnType<number | null, number | null | undefined, number | null>;
  error: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Timestamp;
}

export interface Database {
  users: UsersTable;
  orgs: OrgsTable;
  memberships: MembershipsTable;
  sessions: SessionsTable;
  totp_factors: TotpFactorsTable;
  recovery_codes: RecoveryCodesTable;
  passkeys: PasskeysTable;
  magic_links: MagicLinksTable;
  email_verifications: EmailVerificationsTable;
  password_resets: PasswordResetsTable;
  email_changes: EmailChangesTable;
  trusted_devices: TrustedDevicesTable;
  invitations: InvitationsTable;
  audit_events: AuditEventsTable;
  setup_tokens: SetupTokensTable;
  api_tokens: ApiTokensTable;
  oauth_clients: OAuthClientsTable;
  oauth_grants: OAuthGrantsTable;
  oauth_client_approvals: OAuthClientApprovalsTable;
  oauth_codes: OAuthCodesTable;
  oauth_tokens: OAuthTokensTable;
  oauth_device_codes: OAuthDeviceCodesTable;
  revocation_events: RevocationEventsTable;
  agents: AgentsTable;
  agent_blocks: AgentBlocksTable;
  agent_blocked_attempts: AgentBlockedAttemptsTable;
  agent_org_suspensions: AgentOrgSuspensionsTable;
  api_token_usage: ApiTokenUsageTable;
  identities: IdentitiesTable;
  instance_settings: InstanceSettingsTable;
  waitlist: WaitlistTable;
  scim_configs: ScimConfigsTable;
  scim_users: ScimUsersTable;
  scim_groups: ScimGroupsTable;
  scim_group_members: ScimGroupMembersTable;
  sso_settings: SsoSettingsTable;
  sso_connections: SsoConnectionsTable;
  sso_domains: SsoDomainsTable;
  sso_identities: SsoIdentitiesTable;
  signing_keys: SigningKeysTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
}

export type User = Selectable<UsersTable>;
export type Org = Selectable<OrgsTable>;
export type NewAuditEvent = Insertable<AuditEventsTable>;
export type UserUpdate = Updateable<UsersTable>;
