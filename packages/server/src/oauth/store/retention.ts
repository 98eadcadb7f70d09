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
 * - A token family (what one code exchange, client-credentials or device grant issued, and every
 *   rotation since) goes as a whole once every token of it expired more than `OAUTH_RETENTION_MS`
 *   ago. Until then its rotated refresh tokens stay: they are what tells a reused refresh token
 *   (which revokes the family) from an unknown one.
 * - An authorization code goes `OAUTH_RETENTION_MS` after it expired, except the code of an OpenID
 *   family that still lives (its refresh tokens' ID tokens are made from what the code fixed),
 *   which goes with its family.
 * - A device authorization goes `OAUTH_RETENTION_MS` after it expired.
 *
 * No answer changes: a token or code past its expiry is refused whether its row is there or not.
 *
 * Nothing indexes the tokens' expiry (an index would cost every grant), so each table is read in
 * slices of its pages, as VACUUM reads a table: a TID range scan of `PAGES_PER_SLICE` pages per
 * statement, each run going on from where the last one stopped, within a time budget.
 */
export const OAUTH_RETENTION_MS = 24 * 3_600_000;
/** How often the running server sweeps, and how long one run may take (a tenth of a percent of the time). */
export const OAUTH_SWEEP_TICK_MS = 10_000;
const SWEEP_BUDGET_MS = 10;
const PAGES_PER_SLICE = 32;

const tid = (page: number) => `(${page},0)`;

/** One table's slice statement: deletes what is due among the rows of pages [from, to). */
type Slice = (from: string, to: string, cutoff: Date) => RawBuilder<unknown>;

const SLICES = {
  tokens: ((from, to, cutoff) => sql`
    with dead as (
      select distinct s.family_id from oauth_tokens s
      where s.ctid >= ${from}::tid and s.ctid < ${to}::tid and s.expires_at < ${cutoff}::timestamptz
        and not exists (
          select 1 from oauth_tokens l
          where l.family_id = s.family_id and l.expires_at >= ${cutoff}::timestamptz)
    ), codes as (
      delete from oauth_codes c where c.oidc is not null and c.family_id in (select family_id from dead)
    )
    delete from oauth_tokens t where t.family_id in (select family_id from dead)`) as Slice,
  codes: ((from, to, cutoff) => sql`
    delete from oauth_codes c
    where c.ctid >= ${from}::tid and c.ctid < ${to}::tid and c.expires_at < ${cutoff}::timestamptz
      and (c.oidc is null or c.family_id is null
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

export function oauthSweep(deps: { db: Db; clock: Clock }, o: { pagesPerSlice?: number } = {}): OAuthSweep {
  const pages = o.pagesPerSlice ?? PAGES_PER_SLICE;
  const cursors: Record<keyof typeof SLICES, number> = { tokens: 0, codes: 0, deviceCodes: 0 };
  const sizeOf = async (table: string) => {
    const r = await sql<{ pages: number }>`
      select (pg_relation_size(${table}::regclass) / current_setting('block_size')::int)::int as pages`.execute(
      deps.db,
    );
    return r.rows[0]?.pages ?? 0;
  };
  return {
    async run(budgetMs = SWEEP_BUDGET_MS) {
      const counts: SweepCounts = { tokens: 0, codes: 0, deviceCodes: 0 };
      const cutoff = addMs(deps.clock.now(), -OAUTH_RETENTION_MS);
      for (const name of Object.keys(SLICES) as (keyof typeof SLICES)[]) {
        const end = await sizeOf(TABLES[name]);
        const until = performance.now() + budgetMs;
        while (cursors[name] < end && performance.now() < until) {
          const from = cursors[name];
          const r = await SLICES[name](tid(from), tid(from + pages), cutoff).execute(deps.db);
          counts[name] += Number(r.numAffectedRows ?? 0);
          cursors[name] = from + pages;
        }
        if (cursors[name] >= end) cursors[name] = 0;
      }
      return counts;
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
}): () => void {
  const sweep = oauthSweep(deps);
  return every(
    OAUTH_SWEEP_TICK_MS,
    async () => {
      const n = await sweep.run();
      if (n.tokens + n.codes + n.deviceCodes > 0) deps.log.debug(n, 'deleted expired OAuth tokens and codes');
    },
    (err) => deps.log.error({ err }, 'expired OAuth sweep failed'),
  );
}
