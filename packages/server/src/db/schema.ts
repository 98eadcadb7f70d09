/**
 * The database as Kysely sees it: every table, by name. The table types, matching the migrations,
 * are in `schema/` by area; rows are mapped to API shapes in each domain, never spread.
 */
import type {
  EmailChangesTable,
  EmailVerificationsTable,
  IdentitiesTable,
  InstanceSettingsTable,
  MagicLinksTable,
  PasskeysTable,
  PasswordResetsTable,
  RecoveryCodesTable,
  SessionsTable,
  SetupTokensTable,
  TotpFactorsTable,
  TrustedDevicesTable,
  UsersTable,
  WaitlistTable,
} from './schema/accounts.js';
import type {
  AgentBlockedAttemptsTable,
  AgentBlocksTable,
  AgentOrgSuspensionsTable,
  AgentsTable,
} from './schema/agents.js';
import type { AuditEventsTable } from './schema/audit.js';
import type {
  OAuthClientApprovalsTable,
  OAuthClientsTable,
  OAuthCodesTable,
  OAuthDeviceCodesTable,
  OAuthGrantsTable,
  OAuthTokensTable,
  SigningKeysTable,
} from './schema/oauth.js';
import type { InvitationsTable, MembershipListsTable, MembershipsTable, OrgsTable } from './schema/orgs.js';
import type {
  ScimConfigsTable,
  ScimGroupMembersTable,
  ScimGroupsTable,
  ScimUsersTable,
} from './schema/scim.js';
import type {
  SsoConnectionsTable,
  SsoDomainsTable,
  SsoIdentitiesTable,
  SsoSettingsTable,
} from './schema/sso.js';
import type { ApiTokensTable, ApiTokenUsageTable, RevocationEventsTable } from './schema/tokens.js';
import type { WebhookDeliveriesTable, WebhookEndpointsTable } from './schema/webhooks.js';

export interface Database {
  users: UsersTable;
  orgs: OrgsTable;
  memberships: MembershipsTable;
  membership_lists: MembershipListsTable;
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
