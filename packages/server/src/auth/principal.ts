import type { IncomingHttpHeaders } from 'node:http';
import type { Role } from '../db/schema/orgs.js';
import type { Config } from '../config/index.js';
import type { Db } from '../db/connection.js';
import type { Clock } from '../lib/clock.js';
import type { AuthCache } from './credential-cache.js';
import { ApiError } from '../errors.js';

/**
 * Who is calling: the principal every authenticated request carries, the credential kinds that
 * make one, and what a tier (one kind of credential) is. The tiers' order is in `tiers.ts`.
 */

export type CredentialKind = 'session' | 'pat' | 'svc' | 'org' | 'svc_agent' | 'oauth' | 'admin-token';

/** Who is calling. Built by the first authenticator that recognises the request's credential. */
export interface Principal {
  readonly kind: CredentialKind;
  /** The person behind the credential; null for credentials that are not a person. */
  readonly user: { readonly id: string; readonly email: string; readonly name: string } | null;
  readonly sessionId: string | null;
  /** Org-bound credentials (service tokens, org keys): the one org they act in, and their role there. */
  readonly boundOrg: OrgContext | null;
  /** The org used when the request names none (a session's current org). */
  readonly defaultOrgId: string | null;
  /** null: everything the role allows. */
  readonly scopes: readonly string[] | null;
  /** Display prefix of a token credential. */
  readonly prefix: string | null;
  /** How the audit log names this caller. */
  readonly actor: string;
  /** Break-glass credentials act as owner in any org. */
  readonly superuser: boolean;
  /** The credential's own row id (API or OAuth token): the parent of what it mints. */
  readonly tokenId: string | null;
  /** When the credential expires (ms since the epoch); what it mints expires no later. */
  readonly expiresAt: number | null;
  /** A browser session, or a personal token a session minted: may act on the account itself. */
  readonly fromSession: boolean;
  /** Whether the person behind the credential has proven their address. */
  readonly emailVerified: boolean;
  /** Sessions: when the person signed in (ms since the epoch). */
  readonly signedInAt: number | null;
}

export interface OrgContext {
  readonly id: string;
  readonly slug: string;
  readonly name: string;
  readonly role: Role;
}

/** Route declarations may name only these kinds of credential. */
export const CREDENTIAL_KINDS: readonly CredentialKind[] = [
  'session',
  'pat',
  'svc',
  'org',
  'svc_agent',
  'oauth',
  'admin-token',
];

/**
 * An authentication tier. Returns a principal, null (not my kind of credential) or throws 401
 * (my kind, but not valid). `authenticate` tries the tiers in their documented order.
 */
export type Authenticator = (req: CredentialRequest, deps: TierDeps) => Promise<Principal | null>;

/** What a tier may use: the database, the clock, the configuration and the credential cache. */
export interface TierDeps {
  readonly config: Config;
  readonly db: Db;
  readonly clock: Clock;
  readonly auth: AuthCache;
}

/**
 * What a tier reads of a request: its headers and cookies (and its logger, for failures that do
 * not change the answer). A Fastify request is one; tiers know nothing else of HTTP.
 */
export interface CredentialRequest {
  readonly headers: IncomingHttpHeaders;
  readonly cookies: { readonly [name: string]: string | undefined };
  readonly log: { warn(obj: object, msg: string): void };
}

/** Every invalid credential — unknown, revoked, expired, malformed — answers exactly this. */
export function invalidCredential(): ApiError {
  return new ApiError('unauthorized', 'The credential is not valid.', {
    headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
  });
}

/** The bearer token of an `Authorization: Bearer …` header (RFC 6750 §2.1), or null. */
export function bearerToken(req: CredentialRequest): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer +([\x21-\x7e]+) *$/i.exec(h);
  return m ? m[1]! : null;
}

/** Who did it and from where; taken from the request once and passed to domain code. */
export interface Actor {
  /** `user:<id>`, `admin-token`, `system`, later `pat:<prefix>` … */
  readonly actor: string;
  /** The person behind the credential (a session's, a personal token's owner), when there is one. */
  readonly userId?: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
}
