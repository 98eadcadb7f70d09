/** Table types of single sign-on: the org's settings, connections, domains, and linked identities. */
import type { ColumnType } from 'kysely';
import type { Timestamp } from './columns.js';
import type { Role } from './orgs.js';

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
