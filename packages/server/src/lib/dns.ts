import { Resolver } from 'node:dns/promises';
import type { Config } from '../config/index.js';

/** How long one DNS query may take before it is retried or fails, in milliseconds. */
export const DNS_TIMEOUT_MS = 3000;
/** Attempts per server before a lookup fails. */
export const DNS_TRIES = 2;

/**
 * A resolver for the lookups Latchkey makes itself (domain verification, outbound fetches): the
 * servers in `DNS_SERVERS`, or the system's when unset, with a bounded timeout. It does not read
 * /etc/hosts: only DNS answers.
 */
export function resolverFor(
  config: Pick<Config, 'dnsServers'>,
  opts: { timeoutMs?: number; tries?: number } = {},
): Resolver {
  const r = new Resolver({ timeout: opts.timeoutMs ?? DNS_TIMEOUT_MS, tries: opts.tries ?? DNS_TRIES });
  if (config.dnsServers) r.setServers([...config.dnsServers]);
  return r;
}

/** node:dns error codes that mean "the name or the record does not exist" — a definite answer. */
const ABSENT = new Set(['ENOTFOUND', 'ENODATA', 'NOTFOUND', 'NODATA']);

/** Whether a `node:dns` error is a definite "no such record" rather than a failed lookup. */
export function isNoRecord(err: unknown): boolean {
  return ABSENT.has((err as { code?: string } | null)?.code ?? '');
}
