import { type RawBuilder, sql } from 'kysely';
import type { Logger } from 'pino';
import type { Db } from '../../db/connection.js';
import { addMs, type Clock } from '../../lib/clock.js';
import { every } from '../../lib/every.js';

/**
 * Expired OAuth rows, deleted. Every code exchange, rotation and client-credentials grant writes
 * rows that nothing else deletes: without this the tables and their indexes grow for ever, and
 * every grant slows down as they outgrow the database's memory.
 *
 * - A token goes `OAUTH_RETENTION_MS` after it expired. Until then a rotated refresh token stays,
 *   so presenting it again is still recognised as reuse (which revokes its family); after that it
 *   is refused as unknown, without revoking the family: it could not be used by anyone anyway,
 *   and an old leaked refresh token no longer lets its holder end the family's live session.
 * - An exchanged authorization code stays while any token of its family is left: a replay of it
 *   revokes the family, and an OpenID family's refresh tokens take their ID tokens' claims from
 *   it. A code never exchanged goes `OAUTH_RETENTION_MS` after it expired.
 * - A device authorization goes `OAUTH_RETENTION_MS` after it expired.
 *
 * Nothing indexes the tokens' expiry (an index would cost every grant), so each table is read in
 * slices of its pages, as VACUUM reads a table: a TID range scan of `PAGES_PER_SLICE` pages per
 * statement, each run going on from where the last one stopped, within a time budget. On
 * PostgreSQL one node at a time sweeps (an advisory lock), so that nodes do not repeat each
 * other's work or wait on each other's row locks.
 */
export const OAUTH_RETENTION_MS = 24 * 3_600_000;
/** How often the running server sweeps; each run reads each table for at most `SWEEP_BUDGET_MS`. */
export const OAUTH_SWEEP_TICK_MS = 10_000;
const SWEEP_BUDGET_MS = 10;
const PAGES_PER_SLICE = 32;

const tid = (page: number) => `(${page},0)`;

/** One table's slice statement: deletes what is due among the rows of pages [from, to). */
type Slice = (from: string, to: string, cutoff: Date) => RawBuilder<unknown>;

const SLICES = {
  tokens: ((from, to, cutoff) => sql`
    delete from oauth_tokens t
    where t.ctid >= ${from}::tid and t.ctid < ${to}::tid and t.expires_at < ${cutoff}::timestamptz`) as Slice,
  codes: ((from, to, cutoff) => sql`
    delete from oauth_codes c
    where c.ctid >= ${from}::tid and c.ctid < ${to}::tid and c.expires_at < ${cutoff}::timestamptz
      and (c.family_id is null
        or not exists (select 1 from oauth_tokens t where t.family_id = c.family_id))`) as Slice,
  deviceCodes: ((from, to, cutoff) => sql`
    delete from oauth_device_codes d
    where d.ctid >= ${from}::tid and d.ctid < ${to}::tid and d.expires_at < ${cutoff}::timestamptz`) as Slice,
};
const TABLES = { tokens: 'oauth_tokens', codes: 'oauth_codes', deviceCodes: 'oauth_device_codes' } as const;

export type SweepCounts = Record<keyof typeof SLICES, number>;

export interface OAuthSweep {
  /**
   * Sweeps each table from where the last run stopped, for at most `budgetMs` per table or until
   * it has read the table to its end (the next run starts again from its first page). Returns
   * the rows deleted.
   */
  run(budgetMs?: number): Promise<SweepCounts>;
}

/** The two-key advisory lock space of the sweep; the second key is the schema's. */
const SWEEP_LOCK_SPACE = 7_402;

/**
 * `exclusive`: sweep only while holding the schema's sweep lock, on one connection (PostgreSQL,
 * where several nodes share the tables); a run that finds it taken does nothing.
 */
export function oauthSweep(
  deps: { db: Db; clock: Clock },
  o: { pagesPerSlice?: number; exclusive?: boolean } = {},
): OAuthSweep {
  const pages = o.pagesPerSlice ?? PAGES_PER_SLICE;
  const cursors: Record<keyof typeof SLICES, number> = { tokens: 0, codes: 0, deviceCodes: 0 };
  const sizeOf = async (db: Db, table: string) => {
    const r = await sql<{ pages: number }>`
      select (pg_relation_size(${table}::regclass) / current_setting('block_size')::int)::int as pages`.execute(
      db,
    );
    return r.rows[0]?.pages ?? 0;
  };
  const sweep = async (db: Db, budgetMs: number) => {
    const counts: SweepCounts = { tokens: 0, codes: 0, deviceCodes: 0 };
    const cutoff = addMs(deps.clock.now(), -OAUTH_RETENTION_MS);
    for (const name of Object.keys(SLICES) as (keyof typeof SLICES)[]) {
      const end = await sizeOf(db, TABLES[name]);
      const until = performance.now() + budgetMs;
      while (cursors[name] < end && performance.now() < until) {
        const from = cursors[name];
        const r = await SLICES[name](tid(from), tid(from + pages), cutoff).execute(db);
        counts[name] += Number(r.numAffectedRows ?? 0);
        cursors[name] = from + pages;
      }
      if (cursors[name] >= end) cursors[name] = 0;
    }
    return counts;
  };
  return {
    run(budgetMs = SWEEP_BUDGET_MS) {
      if (!o.exclusive) return sweep(deps.db, budgetMs);
      return deps.db.connection().execute(async (conn) => {
        const lock = sql`${SWEEP_LOCK_SPACE}::int, hashtext(current_schema())`;
        const got = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${lock}) as locked`.execute(
          conn,
        );
        if (!got.rows[0]?.locked) return { tokens: 0, codes: 0, deviceCodes: 0 };
        try {
          return await sweep(conn, budgetMs);
        } finally {
          await sql`select pg_advisory_unlock(${lock})`.execute(conn);
        }
      });
    },
  };
}

/**
 * Runs an `oauthSweep` every `OAUTH_SWEEP_TICK_MS` on an unref'd timer, logging what it deleted;
 * returns the stop.
 */
export function scheduleOAuthSweep(deps: {
  db: Db;
  clock: Clock;
  log: Pick<Logger, 'debug' | 'error'>;
  exclusive: boolean;
}): () => void {
  const sweep = oauthSweep(deps, { exclusive: deps.exclusive });
  return every(
    OAUTH_SWEEP_TICK_MS,
    async () => {
      const n = await sweep.run();
      if (n.tokens + n.codes + n.deviceCodes > 0) deps.log.debug(n, 'deleted expired OAuth tokens and codes');
    },
    (err) => deps.log.error({ err }, 'expired OAuth sweep failed'),
  );
}
