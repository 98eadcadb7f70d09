/** Table types of the OAuth server and OpenID provider: clients, keys, grants, codes, tokens. */
import type { ColumnType } from 'kysely';
import type { JsonOf, Timestamp } from './columns.js';

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
