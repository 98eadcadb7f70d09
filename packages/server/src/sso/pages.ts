import { escapeHtml } from '../mail/templates.js';
import { page } from '../http/html.js';
import type { SsoErrorCode } from './errors.js';

/** What a failed SSO sign-in says, by code. Only fixed text: nothing from the IdP is shown. */
const MESSAGES: Record<SsoErrorCode, { status: number; text: string }> = {
  no_connection: {
    status: 404,
    text: 'No single sign-on is set up for this address or organisation. Sign in another way.',
  },
  idp_unreachable: {
    status: 503,
    text: 'Your identity provider could not be reached. Try again in a moment.',
  },
  idp_error: { status: 502, text: 'Your identity provider did not complete the sign-in. Try again.' },
  bad_state: {
    status: 400,
    text: 'This sign-in expired or was not started from this browser. Start again from the sign-in page.',
  },
  access_denied: { status: 403, text: 'The sign-in was cancelled at your identity provider.' },
  assertion_invalid: { status: 400, text: 'The identity provider’s answer could not be verified.' },
  assertion_replayed: { status: 400, text: 'This sign-in answer was already used. Start again.' },
  email_not_allowed: {
    status: 403,
    text: 'Your identity provider did not name an email address at a domain this organisation verified.',
  },
  account_not_member: {
    status: 403,
    text: 'An account with this email exists but is not a member of the organisation. Ask an admin to invite it, then sign in with SSO.',
  },
  no_account: {
    status: 403,
    text: 'There is no account with this email address, and this organisation does not create accounts at sign-in. Ask an admin to invite you.',
  },
  account_outside_domains: {
    status: 403,
    text: 'Your account’s email address is not at a domain this organisation has verified, so its single sign-on cannot sign you in. Sign in another way.',
  },
  signup_closed: { status: 403, text: 'New accounts on this server are by invitation only.' },
  try_again: { status: 409, text: 'Something changed while signing you in. Try again.' },
};

export function ssoErrorPage(code: SsoErrorCode): { status: number; html: string } {
  const m = MESSAGES[code];
  return {
    status: m.status,
    html: page(
      'Single sign-on did not complete',
      `<p class="error" role="alert" data-code="${code}">${escapeHtml(m.text)}</p><p><a href="/login">Back to sign-in</a></p>`,
    ),
  };
}

/** The IdP is down and the org enforces SSO: nothing else may sign its members in. */
export function outagePage(orgName: string, statusPageUrl: string | null): string {
  const link = statusPageUrl
    ? `<p><a href="${escapeHtml(statusPageUrl)}" rel="noreferrer">Check the status page</a></p>`
    : '';
  return page(
    'Sign-in is unavailable',
    `<p class="error" role="alert" data-code="idp_unreachable">${escapeHtml(orgName)} signs in through its identity provider, which cannot be reached right now. Try again later.</p>${link}`,
  );
}

/** The IdP is down, the org does not enforce SSO: a magic link went out instead. */
export function magicLinkSentPage(): string {
  return page(
    'Check your email',
    '<p role="status" data-code="magic_link_sent">Your identity provider cannot be reached right now, so we sent a sign-in link to your email address instead. It works once and expires soon.</p>',
  );
}

/**
 * The hop to the IdP after the login page's SSO form: browsers apply the form's CSP
 * `form-action 'self'` to the redirects a submission follows, so a form cannot 302 to an IdP.
 */
export function continuePage(url: string): string {
  const u = escapeHtml(url);
  return page(
    'Continue to your identity provider',
    `<meta http-equiv="refresh" content="0;url=${u}"><p><a href="${u}">Continue to your identity provider</a></p>`,
  );
}
