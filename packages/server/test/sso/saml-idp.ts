import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { SignedXml } from 'xml-crypto';

/**
 * A SAML 2.0 identity provider inside the test: it reads Latchkey's AuthnRequest from the
 * redirect, and answers with a Response whose Assertion (and the Response itself) it signs with
 * xml-crypto, using a fixed test key pair (fixtures/, made once with openssl). Every field can be
 * bent to build the forged / unsigned / expired / wrong-audience answers the tests need.
 */
const FIXTURES = join(import.meta.dirname, 'fixtures');
export const IDP_KEY = readFileSync(join(FIXTURES, 'idp-key.pem'), 'utf8');
export const IDP_CERT = readFileSync(join(FIXTURES, 'idp-cert.pem'), 'utf8');
export const ATTACKER_KEY = readFileSync(join(FIXTURES, 'attacker-key.pem'), 'utf8');
export const ATTACKER_CERT = readFileSync(join(FIXTURES, 'attacker-cert.pem'), 'utf8');

export const IDP_ENTITY_ID = 'https://idp.example.test/saml';
/** Never contacted: the browser would go there; the test reads the request off the URL. */
export const IDP_SSO_URL = 'https://idp.example.test/saml/sso';

const certBody = (pem: string) => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');

export function idpMetadata(cert = IDP_CERT): string {
  return `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${IDP_ENTITY_ID}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" WantAuthnRequestsSigned="false">
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${certBody(cert)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${IDP_SSO_URL}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`;
}

/** What Latchkey's redirect to the IdP carried. */
export function readAuthnRequest(location: string): { id: string; acs: string; relayState: string } {
  const u = new URL(location);
  const xml = inflateRawSync(Buffer.from(u.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
  const id = /\sID="([^"]+)"/.exec(xml)?.[1];
  const acs = /AssertionConsumerServiceURL="([^"]+)"/.exec(xml)?.[1];
  if (!id || !acs) throw new Error(`not an AuthnRequest: ${xml}`);
  return { id, acs, relayState: u.searchParams.get('RelayState') ?? '' };
}

export interface AssertionOptions {
  inResponseTo: string;
  /** Latchkey's SP entity id (the audience) and ACS URL (recipient, destination). */
  audience: string;
  acs: string;
  email: string;
  nameId?: string;
  assertionId?: string;
  /** Shift the whole time window (ms from now); negative for expired assertions. */
  shiftMs?: number;
  issuer?: string;
  /** Which parts to sign, and with which key. */
  signAssertion?: boolean;
  signResponse?: boolean;
  key?: string;
  cert?: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** A base64 SAMLResponse, as the IdP's auto-submitting form would post it. */
export function samlResponse(o: AssertionOptions): string {
  const now = Date.now() + (o.shiftMs ?? 0);
  const issuer = o.issuer ?? IDP_ENTITY_ID;
  const aid = o.assertionId ?? `_a${randomUUID()}`;
  const assertion = `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${aid}" Version="2.0" IssueInstant="${iso(now)}"><saml:Issuer>${issuer}</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${o.nameId ?? o.email}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData InResponseTo="${o.inResponseTo}" NotOnOrAfter="${iso(now + 5 * 60_000)}" Recipient="${o.acs}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="${iso(now - 60_000)}" NotOnOrAfter="${iso(now + 5 * 60_000)}"><saml:AudienceRestriction><saml:Audience>${o.audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="${iso(now)}" SessionIndex="_s${randomUUID()}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="email"><saml:AttributeValue>${o.email}</saml:AttributeValue></saml:Attribute><saml:Attribute Name="displayName"><saml:AttributeValue>Ada Lovelace</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>`;
  const key = o.key ?? IDP_KEY;
  const cert = o.cert ?? IDP_CERT;
  const signedAssertion = o.signAssertion === false ? assertion : sign(assertion, 'Assertion', key, cert);
  const response = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r${randomUUID()}" Version="2.0" IssueInstant="${iso(now)}" Destination="${o.acs}" InResponseTo="${o.inResponseTo}"><saml:Issuer>${issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>${signedAssertion}</samlp:Response>`;
  const signed = o.signResponse === false ? response : sign(response, 'Response', key, cert);
  return Buffer.from(signed, 'utf8').toString('base64');
}

function sign(
  xml: string,
  element: 'Assertion' | 'Response',
  privateKey: string,
  publicCert: string,
): string {
  const sig = new SignedXml({
    privateKey,
    publicCert,
    signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  });
  sig.addReference({
    xpath: `/*[local-name(.)='${element}']`,
    transforms: [
      'http://www.w3.org/2000/09/xmldsig#enveloped-signature',
      'http://www.w3.org/2001/10/xml-exc-c14n#',
    ],
    digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
  });
  sig.computeSignature(xml, {
    location: { reference: `/*[local-name(.)='${element}']/*[local-name(.)='Issuer']`, action: 'after' },
  });
  return sig.getSignedXml();
}
