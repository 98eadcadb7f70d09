import type { Resolver } from 'node:dns/promises';
import type { Logger } from 'pino';
import { audit } from '../audit/log.js';
import type { Config } from '../config/index.js';
import type { Db } from '../db/connection.js';
import { isNoRecord, resolverFor } from '../lib/dns.js';
import type { Clock } from '../lib/clock.js';
import { newSecret } from '../lib/secrets.js';
import type { Mailer } from '../mail/mailer.js';
import { domainUnverifiedEmail } from '../mail/templates.js';
import { SSO_LIMITS } from './limits.js';
import { every } from '../lib/every.js';
import { dueForRecheck, markChecked, orgOwnersEmails, unverifyDomain } from './queries.js';

/**
 * Domain verification by proof of control: an org publishes a TXT record
 * `_latchkey-challenge.<domain>` holding the token it was given when it added the domain, and the
 * server looks it up. Nothing else marks a domain verified.
 */

/** The name of the TXT record that proves control of `domain`. */
export function challengeName(domain: string): string {
  return `_latchkey-challenge.${domain}`;
}

/** A fresh challenge token: random, URL- and DNS-safe (it is public once published). */
export function newChallengeToken(): string {
  return newSecret(24);
}

/** What a lookup of the challenge record found. */
export type ChallengeResult =
  /** A TXT record at the name holds the token. */
  | { kind: 'present' }
  /** The name has no TXT record at all (NXDOMAIN / NODATA). */
  | { kind: 'absent' }
  /** TXT records exist at the name, none holding the token. */
  | { kind: 'mismatch' }
  /** The lookup itself failed (timeout, SERVFAIL, refused): no answer either way. */
  | { kind: 'lookup_failed'; code: string };

/**
 * Looks up `_latchkey-challenge.<domain>` and compares each TXT record (its strings joined, as
 * RFC 7208 joins SPF's) with `token`. Does not follow CNAMEs itself (the resolver does) and does
 * not check DNSSEC.
 */
export async function checkChallenge(
  resolver: Resolver,
  domain: string,
  token: string,
): Promise<ChallengeResult> {
  let records: string[][];
  try {
    records = await resolver.resolveTxt(challengeName(domain));
  } catch (err) {
    if (isNoRecord(err)) return { kind: 'absent' };
    return { kind: 'lookup_failed', code: String((err as { code?: unknown }).code ?? 'EUNKNOWN') };
  }
  if (records.length === 0) return { kind: 'absent' };
  return records.some((chunks) => chunks.join('').trim() === token)
    ? { kind: 'present' }
    : { kind: 'mismatch' };
}

export interface RecheckDeps {
  db: Db;
  clock: Clock;
  config: Pick<Config, 'dnsServers' | 'publicUrl'>;
  mailer: Mailer;
  log?: Pick<Logger, 'warn' | 'info'>;
}

export interface RecheckResult {
  checked: number;
  /** Domains that lost their verified state in this run. */
  unverified: string[];
  /** Domains whose lookup failed (left as they were, retried at the next tick). */
  failed: number;
}

const DAY_MS = 86_400_000;

/**
 * Re-resolves every verified domain last checked more than `SSO_LIMITS.domainRecheckMs` ago.
 * Record found → `last_checked_at` and `record_seen_at` move on. Record absent or wrong → only
 * `last_checked_at` moves; once it has not been seen for `SSO_LIMITS.domainGraceMs` (counted from
 * the last time it was seen, or the verification), the domain is unverified, audited as
 * `sso.domain_unverified` in the same transaction, and the org's owners are mailed. A failed lookup
 * changes nothing: an outage of the resolver must not strip every org of its domains.
 */
export async function recheckDomains(deps: RecheckDeps): Promise<RecheckResult> {
  const { db, clock, config, mailer, log } = deps;
  const now = clock.now();
  const resolver = resolverFor(config);
  const due = await dueForRecheck(db, new Date(now.getTime() - SSO_LIMITS.domainRecheckMs));
  const out: RecheckResult = { checked: 0, unverified: [], failed: 0 };
  for (const d of due) {
    const r = await checkChallenge(resolver, d.domain, d.challenge_token);
    if (r.kind === 'lookup_failed') {
      out.failed++;
      log?.warn({ domain: d.domain, code: r.code }, 'sso domain re-check: DNS lookup failed');
      continue;
    }
    out.checked++;
    if (r.kind === 'present') {
      await markChecked(db, d.id, now, true);
      continue;
    }
    const seen = d.record_seen_at ?? d.verified_at;
    if (now.getTime() - seen.getTime() < SSO_LIMITS.domainGraceMs) {
      await markChecked(db, d.id, now, false);
      continue;
    }
    const lost = await db.transaction().execute(async (trx) => {
      const ok = await unverifyDomain(trx, d.id, d.verified_at, now);
      if (!ok) return false; // changed meanwhile (removed, or re-verified by its org)
      await audit(
        trx,
        clock,
        { actor: 'system', ip: null, userAgent: null },
        {
          orgId: d.org_id,
          action: 'sso.domain_unverified',
          target: `domain:${d.domain}`,
          data: { reason: r.kind === 'absent' ? 'record_missing' : 'record_mismatch', last_seen_at: seen },
        },
      );
      return true;
    });
    if (!lost) continue;
    out.unverified.push(d.domain);
    log?.info({ domain: d.domain, org: d.org_id }, 'sso domain unverified: its DNS record is gone');
    for (const to of await orgOwnersEmails(db, d.org_id)) {
      await mailer.send(
        domainUnverifiedEmail({
          to,
          orgName: d.org_name,
          domain: d.domain,
          recordName: challengeName(d.domain),
          recordValue: d.challenge_token,
          days: Math.round(SSO_LIMITS.domainGraceMs / DAY_MS),
          settingsLink: `${config.publicUrl}/app/settings/sso`,
        }),
      );
    }
  }
  return out;
}

/** How often the running server looks for domains due a re-check. */
export const RECHECK_TICK_MS = 3_600_000;

/**
 * Runs `recheckDomains` every `RECHECK_TICK_MS` on an unref'd timer (it never holds the process
 * open), one run at a time; returns the function that stops it.
 */
export function scheduleDomainRechecks(deps: RecheckDeps & { log: Pick<Logger, 'warn' | 'info' | 'error'> }) {
  return every(
    RECHECK_TICK_MS,
    () => recheckDomains(deps),
    (err) => deps.log.error({ err }, 'sso domain re-check failed'),
  );
}
