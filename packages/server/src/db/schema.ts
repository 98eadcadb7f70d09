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
}

export interface OrgsTable {
  id: string;
  slug: string;
  name: string;
  created_at: Timestamp;
  updated_at: Timestamp;
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
}

export interface MagicLinksTable {
  token_hash: string;
  email: string;
  return_to: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  consumed_at: Timestamp | null;
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

export interface Database {
  users: UsersTable;
  orgs: OrgsTable;
  memberships: MembershipsTable;
  sessions: SessionsTable;
  magic_links: MagicLinksTable;
  invitations: InvitationsTable;
  audit_events: AuditEventsTable;
  setup_tokens: SetupTokensTable;
  api_tokens: ApiTokensTable;
  oauth_clients: OAuthClientsTable;
  oauth_grants: OAuthGrantsTable;
  oauth_codes: OAuthCodesTable;
  oauth_tokens: OAuthTokensTable;
  oauth_device_codes: OAuthDeviceCodesTable;
  revocation_events: RevocationEventsTable;
}

export type User = Selectable<UsersTable>;
export type Org = Selectable<OrgsTable>;
export type NewAuditEvent = Insertable<AuditEventsTable>;
export type UserUpdate = Updateable<UsersTable>;
