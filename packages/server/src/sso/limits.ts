import { MINUTE } from '../lib/clock.js';

/** Every SSO limit, in one place. */
export const SSO_LIMITS = {
  /** A started SSO sign-in (state, PKCE verifier, nonce, SAML request id) lives this long. */
  transactionTtlMs: 10 * MINUTE,
  /** Each request to an identity provider (discovery, token, metadata) gives up after this. */
  idpTimeoutMs: 5_000,
  /** A discovery document or fetched SAML metadata is reused for this long. */
  discoveryTtlMs: 10 * MINUTE,
  /** Clock difference tolerated on SAML NotBefore / NotOnOrAfter. */
  samlClockSkewMs: 60_000,
  /** An assertion older than this (IssueInstant) is refused, whatever its conditions say. */
  samlMaxAssertionAgeMs: 5 * MINUTE,
  /** Replay records without a NotOnOrAfter are kept this long. */
  samlReplayDefaultTtlMs: 10 * MINUTE,
  /** Size caps on what admins and IdPs send. */
  metadataMaxBytes: 256 * 1024,
  samlResponseMaxBytes: 256 * 1024,
  connectionsPerOrg: 10,
  domainsPerOrg: 50,
  /** A verified domain's DNS record is looked up again once it was last checked this long ago. */
  domainRecheckMs: 24 * 60 * MINUTE,
  /** A verified domain whose record has not been seen for this long loses its verified state. */
  domainGraceMs: 7 * 24 * 60 * MINUTE,
  /** SSO sign-ins one IP may start (each holds a transaction). */
  startsPerIp: { points: 30, windowSeconds: 10 * 60 },
} as const;
