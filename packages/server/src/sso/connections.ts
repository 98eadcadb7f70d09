import type { Config } from '../config/index.js';
import { isSealed, secretBoxOf } from '../lib/secret-box.js';
import { SsoError } from './errors.js';
import { fetchText, ssoOutbound, toSsoError } from './idp-fetch.js';
import { type OidcSettings, ssoRelyingParty } from './oidc.js';
import type { ConnectionRow } from './queries.js';
import { type IdpMetadata, parseIdpMetadata } from './saml-metadata.js';
import type { SamlSettings } from './saml.js';

/** Latchkey's own SAML URLs for a connection. */
export function spUrls(publicUrl: string, connectionId: string) {
  return {
    spEntityId: `${publicUrl}/api/sso/saml/metadata/${connectionId}`,
    acsUrl: `${publicUrl}/api/sso/saml/acs/${connectionId}`,
  };
}

export const OIDC_REDIRECT_PATH = '/api/sso/oidc/callback';

/** Where requests to an IdP may go (see `ssoOutbound`), and the secrets that open a client secret. */
export type SsoNetConfig = Pick<Config, 'dnsServers' | 'ssoAllowLoopback' | 'secrets'>;

/** The secret box context of an OIDC connection's client secret. */
export const CLIENT_SECRET_CONTEXT = 'sso_connections.oidc_client_secret';

/** An OIDC client secret as stored: sealed with LATCHKEY_SECRET. */
export function sealClientSecret(config: Pick<Config, 'secrets'>, secret: string): string {
  return secretBoxOf(config).seal(secret, CLIENT_SECRET_CONTEXT);
}

/**
 * A stored client secret, opened. A value stored before secrets were sealed is still plaintext
 * until the start-up pass (`sealStoredClientSecrets`) seals it; it is read as it is.
 */
export function openClientSecret(config: Pick<Config, 'secrets'>, stored: string): string {
  return isSealed(stored) ? secretBoxOf(config).open(stored, CLIENT_SECRET_CONTEXT) : stored;
}

export function oidcSettingsOf(c: ConnectionRow, config: SsoNetConfig): OidcSettings {
  if (c.kind !== 'oidc' || !c.oidc_issuer || !c.oidc_client_id || !c.oidc_client_secret) {
    throw new SsoError('no_connection', 'the connection is not a complete OIDC connection');
  }
  return {
    issuer: c.oidc_issuer,
    clientId: c.oidc_client_id,
    clientSecret: openClientSecret(config, c.oidc_client_secret),
    net: ssoOutbound(config),
  };
}

export function samlSettingsOf(c: ConnectionRow, publicUrl: string): SamlSettings {
  if (c.kind !== 'saml' || !c.saml_idp_entity_id || !c.saml_idp_sso_url || !c.saml_idp_certs) {
    throw new SsoError('no_connection', 'the SAML connection has no parsed IdP metadata; test it first');
  }
  return {
    connectionId: c.id,
    idpEntityId: c.saml_idp_entity_id,
    idpSsoUrl: c.saml_idp_sso_url,
    idpCerts: c.saml_idp_certs.split('\n\n'),
    ...spUrls(publicUrl, c.id),
  };
}

export type TestOutcome =
  | { result: 'pass'; detail: string; metadata: IdpMetadata | null }
  | { result: 'fail'; detail: string; code: string };

/**
 * Tests a connection before it may be enabled: OIDC — discovery answers with the endpoints and
 * keys; SAML — the metadata (pasted, or fetched from its URL) parses to an entity id, a
 * redirect SSO URL and a signing certificate. Never throws for the IdP's faults.
 */
export async function testConnection(c: ConnectionRow, config: SsoNetConfig): Promise<TestOutcome> {
  try {
    if (c.kind === 'oidc') {
      const as = await ssoRelyingParty(oidcSettingsOf(c, config)).discover();
      return { result: 'pass', detail: `discovery answered for ${as.issuer}`, metadata: null };
    }
    const xml =
      c.saml_metadata_xml ??
      (c.saml_metadata_url ? await fetchText(c.saml_metadata_url, ssoOutbound(config)) : null);
    if (!xml) return { result: 'fail', detail: 'no metadata XML nor URL', code: 'idp_error' };
    const metadata = await parseIdpMetadata(xml);
    return { result: 'pass', detail: `metadata for ${metadata.entityId}`, metadata };
  } catch (err) {
    const e = toSsoError(err);
    return { result: 'fail', detail: e.message.slice(0, 300), code: e.code };
  }
}

export function certsText(certs: readonly string[]): string {
  return certs.join('\n\n');
}
