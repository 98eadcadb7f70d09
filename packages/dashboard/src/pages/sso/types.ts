/** The SSO API's shapes the dashboard's SSO page reads (`/api/v1/org/sso/…`). */

export type Kind = 'oidc' | 'saml';
export type JitRole = 'admin' | 'member' | 'billing';

export interface Connection {
  id: string;
  kind: Kind;
  name: string;
  enabled: boolean;
  default_role: JitRole;
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
export interface Settings {
  sso_enforced: boolean;
  status_page_url: string | null;
  enforcement_active: boolean;
}
export interface Domain {
  domain: string;
  verified: boolean;
  verified_at: string | null;
  last_checked_at: string | null;
  /** The TXT record that proves control; null once verified. */
  challenge: { name: string; type: 'TXT'; value: string } | null;
  created_at: string;
}

export const KIND_LABEL: Record<Kind, string> = { oidc: 'OIDC', saml: 'SAML' };
