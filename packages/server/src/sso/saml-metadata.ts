import type { DOMParser } from '@xmldom/xmldom';
import { SsoError } from './errors.js';

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

/** What Latchkey takes from an IdP's metadata. */
export interface IdpMetadata {
  entityId: string;
  /** The SingleSignOnService for the HTTP-Redirect binding. */
  ssoUrl: string;
  /** Signing certificates, PEM. */
  certs: string[];
}

/**
 * Reads an IdP's SAML 2.0 metadata: its entityID, its HTTP-Redirect SingleSignOnService and its
 * signing certificates. Throws `idp_error` naming what is missing.
 *
 * Does NOT check a signature on the metadata itself: it comes from the admin (or a URL they named).
 */
export async function parseIdpMetadata(xml: string): Promise<IdpMetadata> {
  // Loaded when first needed (SAML connections are rare), not at start.
  const { DOMParser } = await import('@xmldom/xmldom');
  let doc: ReturnType<DOMParser['parseFromString']>;
  try {
    doc = new DOMParser({
      errorHandler: { warning: () => {}, error: () => {}, fatalError: () => {} },
    }).parseFromString(xml, 'text/xml');
  } catch {
    throw new SsoError('idp_error', 'the metadata is not XML');
  }
  const entity = doc.getElementsByTagNameNS(MD, 'EntityDescriptor')[0];
  const entityId = entity?.getAttribute('entityID');
  if (!entity || !entityId) throw new SsoError('idp_error', 'the metadata has no EntityDescriptor entityID');
  const idp = entity.getElementsByTagNameNS(MD, 'IDPSSODescriptor')[0];
  if (!idp) throw new SsoError('idp_error', 'the metadata has no IDPSSODescriptor');
  let ssoUrl: string | null = null;
  const services = idp.getElementsByTagNameNS(MD, 'SingleSignOnService');
  for (let i = 0; i < services.length; i++) {
    const s = services[i]!;
    if (s.getAttribute('Binding') === REDIRECT) ssoUrl = s.getAttribute('Location');
  }
  if (!ssoUrl) throw new SsoError('idp_error', 'the metadata has no HTTP-Redirect SingleSignOnService');
  const certs: string[] = [];
  const keys = idp.getElementsByTagNameNS(MD, 'KeyDescriptor');
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const use = k.getAttribute('use');
    if (use && use !== 'signing') continue;
    const c = k.getElementsByTagNameNS(DS, 'X509Certificate')[0]?.textContent?.replace(/\s+/g, '');
    if (c) certs.push(toPem(c));
  }
  if (certs.length === 0) throw new SsoError('idp_error', 'the metadata has no signing certificate');
  return { entityId, ssoUrl, certs };
}

function toPem(b64: string): string {
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----`;
}
