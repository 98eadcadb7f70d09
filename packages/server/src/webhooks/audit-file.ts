import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import type { Db } from '../db/connection.js';
import type { Clock } from '../lib/clock.js';

/** Timing of the audit file sink. */
export const AUDIT_FILE_LIMITS = {
  pollMs: 1_000,
  /**
   * An event is written once it is this old: a transaction that wrote it has committed by then
   * (ids are ordered by time, and an event committed later than this behind a newer one would be
   * passed over).
   */
  settleMs: 2_000,
  batch: 500,
  /** How much of the file's end is read at start to find the last event written. */
  tailBytes: 64 * 1024,
} as const;

export interface AuditFileDeps {
  readonly db: Db;
  readonly clock: Clock;
  readonly file: string;
  readonly log: { warn(obj: object, msg: string): void };
}

/** The id of the last event in the file, or null when it is empty, missing or does not end in one. */
function lastIdIn(file: string): string | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const size = statSync(file).size;
    const len = Math.min(size, AUDIT_FILE_LIMITS.tailBytes);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    const lines = buf.toString('utf8').trimEnd().split('\n');
    const id = (JSON.parse(lines[lines.length - 1] ?? '') as { id?: unknown }).id;
    return typeof id === 'string' && /^[0-9a-f-]{36}$/.test(id) ? id : null;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** The smallest event id (UUIDv7, ordered by time) of the millisecond `ms`. */
function idAt(ms: number): string {
  const ts = Math.max(0, ms).toString(16).padStart(12, '0');
  return `${ts.slice(0, 8)}-${ts.slice(8, 12)}-7000-8000-000000000000`;
}

/**
 * `AUDIT_LOG_FILE`: every audit event appended as one JSON line (the shape `GET /api/v1/audit`
 * answers, plus `org_id`), for a log shipper to follow. It follows the audit table in id order
 * from the last event the file holds (or from start-up, for a new file), so a restart neither
 * repeats nor skips. Each node that has the setting writes every event: set it on one node.
 */
export function startAuditFileSink(deps: AuditFileDeps): { stop(): Promise<void> } {
  // A new file starts with what happens from start-up on, not the whole history.
  let cursor = lastIdIn(deps.file) ?? idAt(deps.clock.now().getTime() - AUDIT_FILE_LIMITS.settleMs);
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopped = false;
  let failing = false;

  const once = async (): Promise<number> => {
    const settled = new Date(deps.clock.now().getTime() - AUDIT_FILE_LIMITS.settleMs);
    const rows = await deps.db
      .selectFrom('audit_events')
      .select(['id', 'org_id', 'actor', 'action', 'target', 'ip', 'user_agent', 'created_at', 'data'])
      .where('id', '>', cursor)
      .where('created_at', '<=', settled)
      .orderBy('id')
      .limit(AUDIT_FILE_LIMITS.batch)
      .execute();
    if (rows.length === 0) return 0;
    const lines = rows.map((r) =>
      JSON.stringify({
        id: r.id,
        org_id: r.org_id,
        actor: r.actor,
        action: r.action,
        target: r.target,
        ip: r.ip,
        user_agent: r.user_agent,
        created_at: r.created_at.toISOString(),
        data: typeof r.data === 'string' ? JSON.parse(r.data) : r.data,
      }),
    );
    await appendFile(deps.file, `${lines.join('\n')}\n`, { mode: 0o600 });
    cursor = rows[rows.length - 1]!.id;
    return rows.length;
  };

  const tick = async () => {
    timer = null;
    let wait: number = AUDIT_FILE_LIMITS.pollMs;
    running = (async () => {
      try {
        if ((await once()) === AUDIT_FILE_LIMITS.batch) wait = 0;
        failing = false;
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (!failing)
          deps.log.warn({ code: typeof code === 'string' ? code : null }, 'audit file not written');
        failing = true;
      }
    })();
    await running;
    running = null;
    if (!stopped) {
      timer = setTimeout(() => void tick(), wait);
      timer.unref();
    }
  };
  timer = setTimeout(() => void tick(), 0);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
