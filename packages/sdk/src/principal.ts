/** What verifying a token yields: the principal it speaks for, its kind, and why it was refused. */
import type { QuotaPeriod } from './limits.js';

/** `oauth`: an OAuth access token; the others are Latchkey API tokens (see `acceptApiTokens`). */
export type TokenKind = 'oauth' | 'pat' | 'svc' | 'org' | 'svc_agent';

/** Who a verified token speaks for. */
export interface Principal {
  /** The person (user id), or the client for client-credentials tokens. */
  readonly sub: string;
  /**
   * The person's email address and name, from introspection, to greet them and tell them apart;
   * null for credentials without a person (service tokens, org keys, client credentials) and for
   * JWT access tokens, which a client can read and so carry neither.
   */
  readonly email: string | null;
  readonly name: string | null;
  /**
   * The org the token acts in: an org-bound credential's (service token, org key, agent key, OAuth
   * token) own org, or the org the request named (`verify`'s `org`; the adapters read `x-org-id`).
   * Null for a personal token when the request names none (it acts as its person in any of their orgs).
   */
  readonly org_id: string | null;
  /** When the request named an org: its slug (null otherwise, and for JWTs named by id). */
  readonly org_slug: string | null;
  /**
   * When the request named an org and the credential acts as a person: their role there now
   * (`owner`, `admin`, `member`, `billing`); otherwise null.
   */
  readonly org_role: string | null;
  /** The OAuth client; null for API tokens. */
  readonly client_id: string | null;
  readonly scopes: readonly string[];
  readonly token_kind: TokenKind;
  /** For agent keys: the agent, and whether a human overseer has claimed it. */
  readonly agent?: { readonly id: string; readonly claimed: boolean };
  /** Seconds since the epoch; null for tokens that do not expire. */
  readonly expires_at: number | null;
  /**
   * Budgets Latchkey attaches to the credential, by name (`mcp_calls_per_day`,
   * `guard_runs_per_month`…; see `createQuota`).
   */
  readonly limits?: Readonly<Record<string, number>>;
  /** The period each budget renews in, as Latchkey named it: a UTC day or a calendar month (UTC). */
  readonly limit_periods?: Readonly<Record<string, QuotaPeriod>>;
}

export type VerifyErrorCode = 'invalid_token' | 'insufficient_scope' | 'org_forbidden' | 'unavailable';

/**
 * Why a token was not accepted. `status` and `wwwAuthenticate` are what an HTTP adapter answers
 * (RFC 6750 §3); `unavailable` means Latchkey could not be asked — fail closed, never "valid".
 */
export class VerifyError extends Error {
  readonly status: number;
  constructor(
    readonly code: VerifyErrorCode,
    message: string,
    /** For `insufficient_scope`: the scopes the call needs. */
    readonly scope?: string,
  ) {
    super(message);
    this.name = 'VerifyError';
    this.status =
      code === 'invalid_token' ? 401 : code === 'insufficient_scope' || code === 'org_forbidden' ? 403 : 503;
  }
}
