import { randomBytes } from 'node:crypto';
import type { CacheProvider, SAML } from '@node-saml/node-saml';
import { isValidEmail, normalizeEmail } from '../lib/email.js';
import type { Cache } from '../cache/index.js';
import { loadOnce } from '../lib/load-once.js';
import { safeEqual, sha256Hex } from '../lib/secrets.js';
import { SsoError } from './errors.js';
import { SSO_LIMITS } from './limits.js';
import type { SsoProfile } from './oidc.js';

const PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
const ASSERTION = 'urn:oasis:names:tc:SAML:2.0:assertion';
const EMAIL_ATTRIBUTES = [
  'email',
  'mail',
  'emailaddress',
  'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
  'urn:oid:0.9.2342.19200300.100.1.3',
];

/** What a SAML connection needs, and where Latchkey's side of it lives. */
export interface SamlSettings {
  connectionId: string;
  idpEntityId: string;
  idpSsoUrl: string;
  idpCerts: string[];
  /** Latchkey's SP entity id (its metadata URL) and ACS URL. */
  spEntityId: string;
  acsUrl: string;
}

/**
 * node-saml's InResponseTo cache, backed by Latchkey's cache (so any node can take the response):
 * the ids of AuthnRequests this server sent, for the transaction's lifetime.
 */
function requestIdCache(cache: Cache, connectionId: string): CacheProvider {
  const key = (id: string) => `sso:saml:req:${connectionId}:${sha256Hex(id)}`;
  return {
    async saveAsync(id, value) {
      await cache.set(key(id), value, SSO_LIMITS.transactionTtlMs);
      return { value, createdAt: Date.now() };
    },
    getAsync: (id) => cache.get(key(id)),
    async removeAsync(id) {
      if (id === null) return null;
      return cache.getDel(key(id));
    },
  };
}

/**
 * node-saml and the XML libraries it loads (xml-crypto, xml-encryption, xmldom, xpath) are loaded
 * when a SAML connection is first used, not at start: most instances have none.
 */
const samlLibraries = loadOnce(async () => {
  const [saml, xmldom] = await Promise.all([import('@node-saml/node-saml'), import('@xmldom/xmldom')]);
  return { ...saml, DOMParser: xmldom.DOMParser };
});

/**
 * The service-provider side of one connection: signed responses AND signed assertions required,
 * audience = our entity id, the IdP's issuer checked, InResponseTo required, a bounded clock skew
 * and assertion age. `requestId` fixes the ID of the AuthnRequest it builds (see `samlAuthorizeUrl`).
 */
export async function samlFor(s: SamlSettings, cache: Cache, requestId?: string): Promise<SAML> {
  const { SAML, ValidateInResponseTo } = await samlLibraries();
  return new SAML({
    ...(requestId ? { generateUniqueId: () => requestId } : {}),
    issuer: s.spEntityId,
    callbackUrl: s.acsUrl,
    entryPoint: s.idpSsoUrl,
    idpIssuer: s.idpEntityId,
    idpCert: s.idpCerts,
    audience: s.spEntityId,
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: true,
    acceptedClockSkewMs: SSO_LIMITS.samlClockSkewMs,
    maxAssertionAgeMs: SSO_LIMITS.samlMaxAssertionAgeMs,
    validateInResponseTo: ValidateInResponseTo.always,
    requestIdExpirationPeriodMs: SSO_LIMITS.transactionTtlMs,
    cacheProvider: requestIdCache(cache, s.connectionId),
    identifierFormat: null,
    disableRequestedAuthnContext: true,
  });
}

/** A fresh AuthnRequest ID (an xs:ID: starts with an underscore), to keep with the transaction. */
export function newSamlRequestId(): string {
  return `_${randomBytes(20).toString('hex')}`;
}

/** Where to send the browser: the IdP's SSO URL with an AuthnRequest of ID `requestId`. */
export async function samlAuthorizeUrl(
  s: SamlSettings,
  cache: Cache,
  f: { requestId: string; relayState: string },
): Promise<string> {
  return (await samlFor(s, cache, f.requestId)).getAuthorizeUrlAsync(f.relayState, undefined, {});
}

/** Latchkey's SP metadata for a connection (no signing keys: Latchkey does not sign requests). */
export async function spMetadata(s: SamlSettings, cache: Cache): Promise<string> {
  return (await samlFor(s, cache)).generateServiceProviderMetadata(null, null);
}

/**
 * Validates a posted `SAMLResponse`: node-saml checks the signatures, issuer, audience, time
 * window and that InResponseTo names a request this server sent; this adds that it names
 * `expectedRequestId` — the request of the browser's own transaction (else `bad_state`) — the
 * Destination and SubjectConfirmation Recipient (must be our ACS URL), and refuses an assertion id
 * seen before (recorded until its NotOnOrAfter, atomically across nodes). Returns who signed in.
 * Does not check the browser binding itself: the caller matched the cookie to the transaction.
 */
export async function validateSamlResponse(
  s: SamlSettings,
  cache: Cache,
  samlResponse: string,
  f: { expectedRequestId: string; now: () => number },
): Promise<SsoProfile> {
  const now = f.now;
  if (samlResponse.length > SSO_LIMITS.samlResponseMaxBytes) {
    throw new SsoError('assertion_invalid', 'response too large');
  }
  let profile;
  try {
    ({ profile } = await (await samlFor(s, cache)).validatePostResponseAsync({ SAMLResponse: samlResponse }));
  } catch (err) {
    throw new SsoError('assertion_invalid', (err as Error).message?.slice(0, 200));
  }
  if (!profile) throw new SsoError('assertion_invalid', 'no profile');
  // A genuine response, but to another browser's request (stolen, or posted cross-site here).
  if (typeof profile.inResponseTo !== 'string' || !safeEqual(profile.inResponseTo, f.expectedRequestId)) {
    throw new SsoError('bad_state', 'InResponseTo is not this browser’s request');
  }
  const { DOMParser } = await samlLibraries();
  const parse = (xml: string) => parseXml(DOMParser, xml);
  const response = parse(Buffer.from(samlResponse, 'base64').toString('utf8'));
  const root = response.getElementsByTagNameNS(PROTOCOL, 'Response')[0];
  const destination = root?.getAttribute('Destination');
  if (destination && destination !== s.acsUrl) throw new SsoError('assertion_invalid', 'wrong Destination');
  // node-saml does not compare the issuer of a login response: the Response's (when present)
  // and the Assertion's must both be the IdP's entity id.
  const responseIssuer = childText(root, ASSERTION, 'Issuer');
  if (responseIssuer !== null && responseIssuer !== s.idpEntityId) {
    throw new SsoError('assertion_invalid', 'wrong Response Issuer');
  }

  const assertionXml = profile.getAssertionXml?.();
  if (!assertionXml) throw new SsoError('assertion_invalid', 'no assertion');
  const assertion = parse(assertionXml).getElementsByTagNameNS(ASSERTION, 'Assertion')[0];
  const id = assertion?.getAttribute('ID');
  if (!assertion || !id) throw new SsoError('assertion_invalid', 'the assertion has no ID');
  if (childText(assertion, ASSERTION, 'Issuer') !== s.idpEntityId) {
    throw new SsoError('assertion_invalid', 'wrong Assertion Issuer');
  }
  const confirmations = assertion.getElementsByTagNameNS(ASSERTION, 'SubjectConfirmationData');
  if (confirmations.length === 0) throw new SsoError('assertion_invalid', 'no SubjectConfirmationData');
  for (let i = 0; i < confirmations.length; i++) {
    if (confirmations[i]!.getAttribute('Recipient') !== s.acsUrl) {
      throw new SsoError('assertion_invalid', 'wrong Recipient');
    }
  }

  const notOnOrAfter = assertion
    .getElementsByTagNameNS(ASSERTION, 'Conditions')[0]
    ?.getAttribute('NotOnOrAfter');
  const until = notOnOrAfter ? Date.parse(notOnOrAfter) : NaN;
  const ttl = Number.isFinite(until)
    ? Math.max(until - now(), 0) + SSO_LIMITS.samlClockSkewMs
    : SSO_LIMITS.samlReplayDefaultTtlMs;
  const uses = await cache.incr(`sso:saml:assertion:${s.connectionId}:${sha256Hex(id)}`, ttl);
  if (uses !== 1) throw new SsoError('assertion_replayed', 'assertion already used');

  const candidates = [
    ...EMAIL_ATTRIBUTES.map((a) => profile[a]),
    profile.nameIDFormat?.endsWith(':emailAddress') ? profile.nameID : undefined,
  ];
  const raw = candidates.find((v): v is string => typeof v === 'string' && v.includes('@'));
  const email = raw ? normalizeEmail(raw) : null;
  const name = typeof profile.displayName === 'string' ? profile.displayName : null;
  return { subject: profile.nameID, email: email && isValidEmail(email) ? email : null, name };
}

type XmlElement = NonNullable<ReturnType<ReturnType<typeof parseXml>['getElementsByTagNameNS']>[number]>;

/** The text of a direct child element, or null when there is none. */
function childText(parent: XmlElement | undefined, ns: string, name: string): string | null {
  if (!parent) return null;
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    const e = n as unknown as XmlElement;
    if (e.nodeType === 1 && e.namespaceURI === ns && e.localName === name)
      return (e.textContent ?? '').trim();
  }
  return null;
}

function parseXml(DOMParser: typeof import('@xmldom/xmldom').DOMParser, xml: string) {
  return new DOMParser({
    errorHandler: { warning: () => {}, error: () => {}, fatalError: () => {} },
  }).parseFromString(xml, 'text/xml');
}
