import { resolve } from 'node:path';
import { ConfigError } from './errors.js';

/** How webhook deliveries are sent and retried. */
export interface WebhookConfig {
  /** Testing only: endpoints may be plain http on loopback addresses (`WEBHOOK_ALLOW_LOOPBACK`). */
  readonly allowLoopback: boolean;
  /** The wait before the first retry; each later wait doubles, up to an hour (`WEBHOOK_RETRY_BASE_MS`). */
  readonly retryBaseMs: number;
  /**
   * How long a delivery is retried, from the event (`WEBHOOK_RETRY_WINDOW_SECONDS`, 24 h); an
   * endpoint whose every attempt failed for this long is disabled and its owners mailed.
   */
  readonly retryWindowMs: number;
}

type Raw = (
  name:
    'WEBHOOK_ALLOW_LOOPBACK' | 'WEBHOOK_RETRY_BASE_MS' | 'WEBHOOK_RETRY_WINDOW_SECONDS' | 'AUDIT_LOG_FILE',
) => string | undefined;

/** `WEBHOOK_*` settings; announces the loopback allowance among the development defaults. */
export function parseWebhookConfig(raw: Raw, devDefaults: string[]): WebhookConfig {
  const loopbackRaw = raw('WEBHOOK_ALLOW_LOOPBACK') ?? 'false';
  if (!/^(1|true|yes|on|0|false|no|off)$/i.test(loopbackRaw))
    throw new ConfigError(
      'WEBHOOK_ALLOW_LOOPBACK',
      `must be true or false (got "${loopbackRaw.slice(0, 20)}")`,
    );
  const allowLoopback = /^(1|true|yes|on)$/i.test(loopbackRaw);
  if (allowLoopback) devDefaults.push('WEBHOOK_ALLOW_LOOPBACK=true (testing only: webhooks to loopback)');
  const base = raw('WEBHOOK_RETRY_BASE_MS') ?? '10000';
  if (!/^\d{1,8}$/.test(base) || Number(base) < 10 || Number(base) > 3_600_000)
    throw new ConfigError('WEBHOOK_RETRY_BASE_MS', 'must be an integer 10–3600000 (milliseconds)');
  const window = raw('WEBHOOK_RETRY_WINDOW_SECONDS') ?? '86400';
  if (!/^\d{1,7}$/.test(window) || Number(window) < 1 || Number(window) > 604_800)
    throw new ConfigError('WEBHOOK_RETRY_WINDOW_SECONDS', 'must be an integer 1–604800 (seconds)');
  return Object.freeze({
    allowLoopback,
    retryBaseMs: Number(base),
    retryWindowMs: Number(window) * 1000,
  });
}

/** `AUDIT_LOG_FILE`: where every audit event is appended as one JSON line; relative to `cwd`. */
export function parseAuditLogFile(raw: Raw, cwd: string): string | null {
  const v = raw('AUDIT_LOG_FILE');
  if (v === undefined) return null;
  if (/[\0\r\n]/.test(v)) throw new ConfigError('AUDIT_LOG_FILE', 'must be a file path');
  return resolve(cwd, v);
}
