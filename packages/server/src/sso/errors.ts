/**
 * Why an SSO sign-in did not end in a session. Stable codes: browser endpoints render a page per
 * code (see `pages.ts`), tests match on them.
 */
export type SsoErrorCode =
  /** No enabled connection for this email's domain or org. */
  | 'no_connection'
  /** The IdP did not answer, timed out, refused the connection or answered 5xx. */
  | 'idp_unreachable'
  /** The IdP answered, but not with a usable sign-in (an error, a bad ID token or metadata). */
  | 'idp_error'
  /** No transaction for this browser, a used or expired one, or a `state` that does not match. */
  | 'bad_state'
  /** The person said no at the IdP. */
  | 'access_denied'
  /** A SAML response that is unsigned, forged, expired, for another audience or recipient. */
  | 'assertion_invalid'
  /** A SAML assertion that was already used. */
  | 'assertion_replayed'
  /** The IdP named no email, or one outside the org's verified domains. */
  | 'email_not_allowed'
  /**
   * An account with this email exists and is not a member, and the org does not provision at
   * sign-in: an admin must invite it first.
   */
  | 'account_not_member'
  /** No account has this email and the org does not create accounts at sign-in. */
  | 'no_account'
  /**
   * A known SSO identity whose account's email is not (or no longer) at a domain the org has
   * verified: the org's IdP does not speak for that account.
   */
  | 'account_outside_domains'
  /** The sign-up policy refused a just-in-time account. */
  | 'signup_closed'
  /** Two sign-ins raced; trying again works. */
  | 'try_again';

export class SsoError extends Error {
  constructor(
    readonly code: SsoErrorCode,
    detail?: string,
  ) {
    super(detail ?? code);
    this.name = 'SsoError';
  }
}
