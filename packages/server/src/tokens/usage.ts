import { sql } from 'kysely';
import type { Db } from '../db/connection.js';
import { DAY, type Clock } from '../lib/clock.js';

/**
 * Requests per API token per UTC day (`api_token_usage`). Each node counts in memory and adds its
 * counts to the table in one statement every `USAGE_FLUSH_MS` (or sooner once `USAGE_MAX_KEYS`
 * token-days wait), never on the request path. Rows are additive, so any number of nodes can
 * write at once; counts a node held when it died are lost, which only makes the figure a floor.
 */

// Limits, in one place.
export const USAGE_FLUSH_MS = 10_000;
export const USAGE_MAX_KEYS = 5_000;
/** Days of usage kept, and the most an API answer covers. */
export const USAGE_KEPT_DAYS = 90;

export interface UsageCounter {
  /** Counts one request made with the API token `tokenId`, today (UTC). */
  count(tokenId: string): void;
  /** Writes what this node has counted so far. */
  flush(): Promise<void>;
  /** Stops the timer and writes what is left. */
  stop(): Promise<void>;
}

export interface UsageDeps {
  db: Db;
  clock: Clock;
  log: { warn(obj: object, msg: string): void };
}

const dayOf = (d: Date) => d.toISOString().slice(0, 10);

/** The UTC day holding `ms`, with its bounds. */
function dayAround(ms: number): { day: string; from: number; until: number } {
  const from = ms - (((ms % DAY) + DAY) % DAY);
  return { day: dayOf(new Date(from)), from, until: from + DAY };
}

export function usageCounter(deps: UsageDeps, flushMs = USAGE_FLUSH_MS): UsageCounter {
  let pending = new Map<string, number>();
  let writing: Promise<void> = Promise.resolve();

  const write = async (batch: Map<string, number>) => {
    if (batch.size === 0) return;
    const rows = [...batch].map(([k, n]) => {
      const [tokenId, day] = k.split('|') as [string, string];
      return sql`(${tokenId}::uuid, ${day}::date, ${n}::bigint)`;
    });
    try {
      // Tokens deleted meanwhile (their org was) are skipped by the join.
      await sql`
        insert into api_token_usage (token_id, day, requests)
        select v.token_id, v.day, v.requests
        from (values ${sql.join(rows)}) as v(token_id, day, requests)
        join api_tokens t on t.id = v.token_id
        on conflict (token_id, day) do update set requests = api_token_usage.requests + excluded.requests
      `.execute(deps.db);
    } catch (err) {
      deps.log.warn({ err: (err as Error).message, keys: batch.size }, 'could not record API token usage');
    }
  };

  const flush = () => {
    const batch = pending;
    pending = new Map();
    writing = writing.then(() => write(batch));
    return writing;
  };

  // Today's UTC day, kept rather than formatted on every request.
  let today = dayAround(deps.clock.now().getTime());

  const timer = setInterval(() => void flush(), flushMs);
  timer.unref();

  return {
    count(tokenId) {
      const now = deps.clock.now().getTime();
      if (now < today.from || now >= today.until) today = dayAround(now);
      const key = `${tokenId}|${today.day}`;
      pending.set(key, (pending.get(key) ?? 0) + 1);
      if (pending.size >= USAGE_MAX_KEYS) void flush();
    },
    flush,
    async stop() {
      clearInterval(timer);
      await flush();
    },
  };
}

export interface UsageDay {
  day: string;
  requests: number;
}

/**
 * A token's daily counts for the last `days` days up to today (UTC), oldest first, with the days
 * it was not used as zeros.
 */
export async function tokenUsage(db: Db, clock: Clock, tokenId: string, days: number): Promise<UsageDay[]> {
  const today = clock.now();
  const from = dayOf(new Date(today.getTime() - (days - 1) * DAY));
  const rows = await db
    .selectFrom('api_token_usage')
    .select([sql<string>`to_char(day, 'YYYY-MM-DD')`.as('day'), 'requests'])
    .where('token_id', '=', tokenId)
    .where('day', '>=', from)
    .execute();
  const byDay = new Map(rows.map((r) => [r.day, Number(r.requests)]));
  return Array.from({ length: days }, (_, i) => {
    const day = dayOf(new Date(today.getTime() - (days - 1 - i) * DAY));
    return { day, requests: byDay.get(day) ?? 0 };
  });
}

/** Forgets usage older than `USAGE_KEPT_DAYS`. */
export async function pruneUsage(db: Db, clock: Clock): Promise<number> {
  const cutoff = dayOf(new Date(clock.now().getTime() - USAGE_KEPT_DAYS * DAY));
  const r = await db.deleteFrom('api_token_usage').where('day', '<', cutoff).executeTakeFirst();
  return Number(r.numDeletedRows);
}
