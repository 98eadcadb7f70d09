import { accountLimiters } from '../accounts/limits.js';
import { issueMagicLink, MAGIC_LINK_TTL_MS } from '../accounts/magic-link.js';
import type { Deps } from '../deps.js';
import { sha256Hex } from '../lib/secrets.js';
import { magicLinkEmail } from '../mail/templates.js';
import { getSettings } from './queries.js';
import { isVerifiedDomainOf } from '../orgs/sso-enforcement.js';

export type FailoverOutcome =
  /** The org enforces SSO: a 503 page, with the org's status page when it set one. */
  | { kind: 'outage'; orgName: string; statusPageUrl: string | null }
  /** The org does not enforce SSO and the email is at its verified domain: a magic link went out. */
  | { kind: 'magic_link' }
  /** The org does not enforce SSO, but no usable email was given: sign in another way. */
  | { kind: 'unreachable' };

/**
 * What happens when an org's IdP cannot be reached (timeout, refused connection, 5xx): the org's
 * `sso_enforced` decides. Not enforced → a magic link to a verified-domain email (within the
 * usual per-email budget; over it, nothing is sent but the answer is the same). Enforced → no
 * other way in.
 */
export async function failover(
  deps: Pick<Deps, 'db' | 'clock' | 'cache' | 'config' | 'mailer'>,
  org: { id: string; name: string },
  email: string | null,
  returnTo: string | null,
  log: { warn(o: object, msg: string): void },
): Promise<FailoverOutcome> {
  const settings = await getSettings(deps.db, org.id);
  if (settings.sso_enforced) {
    return { kind: 'outage', orgName: org.name, statusPageUrl: settings.status_page_url };
  }
  const domain = email?.split('@')[1];
  if (!email || !domain || !(await isVerifiedDomainOf(deps.db, org.id, domain)))
    return { kind: 'unreachable' };
  const perEmail = await accountLimiters(deps.cache).magicLinksPerEmail.consume(sha256Hex(email));
  if (perEmail.allowed) {
    const token = await issueMagicLink(deps.db, deps.clock, email, returnTo);
    const link = `${deps.config.publicUrl}/api/auth/magic-link/callback?token=${token}`;
    try {
      await deps.mailer.send(magicLinkEmail(email, link, MAGIC_LINK_TTL_MS / 60_000));
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'sending the failover magic link failed');
    }
  }
  return { kind: 'magic_link' };
}
