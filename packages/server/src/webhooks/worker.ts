import { sql } from 'kysely';
import { type Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import type { Config } from '../config/index.js';
import type { Db } from '../db/connection.js';
import type { Clock } from '../lib/clock.js';
import { OutboundFetchError, outboundFetch, outboundPolicy } from '../lib/outbound-fetch.js';
import { secretBoxOf } from '../lib/secret-box.js';
import type { Mailer } from '../mail/mailer.js';
import { endpointDisabledEmail, endpointOwners } from './mail.js';
import { failPending } from './queries.js';
import { messageId, signedHeaders } from './signing.js';

/** Limits of the delivery worker. */
export const DELIVERY_LIMITS = {
  /** Deliveries one node claims at a time (sent in parallel). */
  batch: 10,
  /** How long a claim holds a delivery; longer than one attempt can take. */
  leaseMs: 60_000,
  /** One attempt's whole exchange. */
  timeoutMs: 10_000,
  /** The longest wait between two attempts. */
  maxGapMs: 3_600_000,
  /** How often a node with no enabled endpoint looks again (one created elsewhere). */
  idleMs: 30_000,
  /** How often a node with enabled endpoints looks for due deliveries, at most. */
  pollMs: 1_000,
} as const;

export interface WorkerDeps {
  readonly db: Db;
  readonly clock: Clock;
  readonly config: Pick<Config, 'webhooks' | 'secrets' | 'dnsServers'>;
  readonly mailer: Mailer;
  readonly log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

interface Claimed {
  id: string;
  endpoint_id: string;
  event_id: string;
  payload: string;
  attempts: number;
  created_at: Date;
  first_attempt_at: Date | null;
  url: string;
  secret: string;
  org_id: string | null;
}

interface Outcome {
  ok: boolean;
  status: number | null;
  error: string | null;
}

const SYSTEM: Actor = { actor: 'system', ip: null, userAgent: null };

/**
 * Claims due deliveries: one statement sets a lease on up to `n` pending rows whose time has come
 * and that no live lease holds. `FOR UPDATE SKIP LOCKED` lets nodes claim side by side without
 * waiting on each other; a row another node claimed meanwhile is re-checked and skipped, so each
 * delivery is sent by one node. A node that dies mid-send leaves a lease that runs out, and the
 * delivery is claimed again.
 */
export async function claimDue(db: Db, now: Date, n: number): Promise<Claimed[]> {
  const until = new Date(now.getTime() + DELIVERY_LIMITS.leaseMs);
  const { rows } = await sql<Claimed>`
    update webhook_deliveries d set lease_until = ${until}::timestamptz
    from webhook_endpoints e
    where e.id = d.endpoint_id and d.id in (
      select x.id from webhook_deliveries x
      join webhook_endpoints y on y.id = x.endpoint_id and y.enabled
      where x.status = 'pending' and x.next_attempt_at <= ${now}::timestamptz
        and (x.lease_until is null or x.lease_until <= ${now}::timestamptz)
      order by x.next_attempt_at
      limit ${n}
      for update of x skip locked)
    returning d.id, d.endpoint_id, d.event_id, d.payload, d.attempts, d.created_at, d.first_attempt_at,
      e.url, e.secret, e.org_id`.execute(db);
  return rows;
}

/** One attempt: a signed POST through the guarded outbound fetch. 2xx is success; nothing else is. */
async function attempt(deps: WorkerDeps, d: Claimed): Promise<Outcome> {
  let headers: Record<string, string>;
  try {
    headers = signedHeaders(secretBoxOf(deps.config), d.secret, {
      id: messageId(d.event_id),
      payload: d.payload,
      at: deps.clock.now(),
    });
  } catch {
    return { ok: false, status: null, error: 'secret_unreadable' };
  }
  try {
    const res = await outboundFetch(
      d.url,
      { method: 'POST', headers, body: d.payload },
      {
        ...outboundPolicy(deps.config, deps.config.webhooks.allowLoopback),
        timeoutMs: DELIVERY_LIMITS.timeoutMs,
        redirect: 'manual',
      },
    );
    const ok = res.status >= 200 && res.status < 300;
    return { ok, status: res.status, error: ok ? null : `http_${res.status}` };
  } catch (err) {
    return { ok: false, status: null, error: err instanceof OutboundFetchError ? err.code : 'network' };
  }
}

/** The wait before attempt `attempts + 1`: the base, doubled for each attempt made, capped. */
export function retryDelay(baseMs: number, attempts: number): number {
  return Math.min(baseMs * 2 ** Math.min(attempts - 1, 30), DELIVERY_LIMITS.maxGapMs);
}

/** Records an attempt; after a failure, schedules the next or gives up, and may disable the endpoint. */
async function record(deps: WorkerDeps, d: Claimed, o: Outcome): Promise<void> {
  const { db, clock, config } = deps;
  const now = clock.now();
  const attempts = d.attempts + 1;
  const first = d.first_attempt_at ?? now;
  // The endpoint's row before its delivery's, in every transaction here: deleting or disabling an
  // endpoint locks the endpoint, then its deliveries, and the other order deadlocks with it.
  if (o.ok) {
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('webhook_endpoints')
        .set({ failing_since: null })
        .where('id', '=', d.endpoint_id)
        .where('failing_since', 'is not', null)
        .execute();
      await trx
        .updateTable('webhook_deliveries')
        .set({
          status: 'delivered',
          attempts,
          first_attempt_at: first,
          last_attempt_at: now,
          response_status: o.status,
          error: null,
          next_attempt_at: null,
          lease_until: null,
        })
        .where('id', '=', d.id)
        .execute();
    });
    return;
  }
  const window = config.webhooks.retryWindowMs;
  const next = new Date(now.getTime() + retryDelay(config.webhooks.retryBaseMs, attempts));
  const giveUp = next.getTime() > d.created_at.getTime() + window;
  const disabled = await db.transaction().execute(async (trx) => {
    const ep = await trx
      .updateTable('webhook_endpoints')
      .set((eb) => ({ failing_since: eb.fn.coalesce('failing_since', sql<Date>`${now}::timestamptz`) }))
      .where('id', '=', d.endpoint_id)
      .returning(['failing_since', 'enabled'])
      .executeTakeFirst();
    await trx
      .updateTable('webhook_deliveries')
      .set({
        status: giveUp ? 'failed' : 'pending',
        attempts,
        first_attempt_at: first,
        last_attempt_at: now,
        response_status: o.status,
        error: o.error,
        next_attempt_at: giveUp ? null : next,
        lease_until: null,
      })
      .where('id', '=', d.id)
      .execute();
    if (!ep?.enabled || !ep.failing_since) return false;
    // Failing for the whole window, or a delivery retried to the end with no success since its first try.
    const sustained =
      ep.failing_since.getTime() <= now.getTime() - window ||
      (giveUp && ep.failing_since.getTime() <= first.getTime());
    if (!sustained) return false;
    const off = await trx
      .updateTable('webhook_endpoints')
      .set({ enabled: false, disabled_reason: 'failing', updated_at: now })
      .where('id', '=', d.endpoint_id)
      .where('enabled', '=', true)
      .returning('id')
      .executeTakeFirst();
    if (!off) return false;
    await failPending(trx, d.endpoint_id, 'endpoint_disabled');
    await audit(trx, clock, SYSTEM, {
      orgId: d.org_id,
      action: 'webhook.disabled',
      target: `webhook:${d.endpoint_id}`,
      data: { reason: 'failing', failing_since: ep.failing_since.toISOString() },
    });
    return true;
  });
  if (disabled) await mailOwners(deps, d);
}

async function mailOwners(deps: WorkerDeps, d: Claimed): Promise<void> {
  const { emails, orgName } = await endpointOwners(deps.db, d.org_id);
  const hours = Math.max(1, Math.round(deps.config.webhooks.retryWindowMs / 3_600_000));
  for (const to of emails) {
    try {
      await deps.mailer.send(endpointDisabledEmail({ to, orgName, url: d.url, hours }));
    } catch (err) {
      deps.log.warn({ err: (err as Error).name, endpoint: d.endpoint_id }, 'webhook disabled mail not sent');
    }
  }
}

/** Claims and sends one batch; answers how many it sent. */
export async function deliverDue(deps: WorkerDeps): Promise<number> {
  const claimed = await claimDue(deps.db, deps.clock.now(), DELIVERY_LIMITS.batch);
  await Promise.all(
    claimed.map(async (d) => {
      const outcome = await attempt(deps, d);
      await record(deps, d, outcome);
      deps.log.info(
        {
          delivery: d.id,
          endpoint: d.endpoint_id,
          ok: outcome.ok,
          status: outcome.status,
          error: outcome.error,
        },
        'webhook delivery attempted',
      );
    }),
  );
  return claimed.length;
}

export interface DeliveryWorker {
  /** Look for work now (an endpoint was created or enabled, a delivery resent). */
  wake(): void;
  /** Stops looking and waits for the batch in flight. */
  stop(): Promise<void>;
}

/**
 * Sends due deliveries until stopped: at once while there is work, every `pollMs` (or the retry
 * base, when shorter) while endpoints are enabled, every `idleMs` while none is.
 */
export function startDeliveryWorker(deps: WorkerDeps): DeliveryWorker {
  const fastMs = Math.min(DELIVERY_LIMITS.pollMs, deps.config.webhooks.retryBaseMs);
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopped = false;
  /** How long to wait after a failed read: from the fast poll, doubling to the idle wait. */
  let failWait = 0;
  let woken = false;
  const schedule = (ms: number) => {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void tick(), ms);
    timer.unref();
  };
  const tick = async () => {
    if (running || stopped) return;
    timer = null;
    let wait: number = DELIVERY_LIMITS.idleMs;
    running = (async () => {
      try {
        const sent = await deliverDue(deps);
        if (sent > 0) wait = 0;
        else {
          const any = await deps.db
            .selectFrom('webhook_endpoints')
            .select('id')
            .where('enabled', '=', true)
            .limit(1)
            .executeTakeFirst();
          if (any) wait = fastMs;
        }
        failWait = 0;
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (failWait === 0)
          deps.log.warn(
            { code: typeof code === 'string' ? code : null },
            'webhook deliveries could not be read',
          );
        // A passing fault (a dropped connection, a failover) must not hold deliveries back for the
        // whole idle wait: look again soon, then less often while it lasts.
        failWait = Math.min(failWait === 0 ? fastMs : failWait * 2, DELIVERY_LIMITS.idleMs);
        wait = failWait;
      }
    })();
    await running;
    running = null;
    schedule(woken ? 0 : wait);
    woken = false;
  };
  schedule(0);
  return {
    wake: () => {
      if (running) woken = true;
      else schedule(0);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
