import { sql } from 'kysely';
import type { Logger } from 'pino';
import { every } from '../lib/every.js';
import type { Db } from './connection.js';

/**
 * What autovacuum does for a PostgreSQL server, done for the embedded database. PGlite runs
 * PostgreSQL as one process: no autovacuum launcher or worker ever starts. Without this, the row
 * versions every rotation, consumed code, revocation and `last_used_at` write leaves behind are
 * reclaimed only by pruning within a page, the planner never gathers statistics, and no
 * transaction id is ever frozen: a standalone PostgreSQL does not stop at the wraparound limit as
 * a server does (it only warns), so after about two billion write transactions old rows would
 * turn invisible.
 *
 * Every minute (autovacuum's nap time) the statistics say which tables are due, by autovacuum's
 * default thresholds, and each due table gets one `VACUUM` or `ANALYZE`, in turn, on the
 * database's one connection: the requests that arrive meanwhile wait behind it, as they wait
 * behind any statement. Measured on PGlite: `VACUUM (ANALYZE)` of 100 000 token rows with 20 000
 * dead takes about 0.13 s, of a million audit events about 0.4 s (most of it ANALYZE's sample).
 */

/** PostgreSQL's autovacuum defaults (`autovacuum_*` settings). */
export const AUTOVACUUM = {
  vacuumThreshold: 50,
  vacuumScaleFactor: 0.2,
  insertThreshold: 1000,
  insertScaleFactor: 0.2,
  analyzeThreshold: 50,
  analyzeScaleFactor: 0.1,
  /** `vacuum_freeze_table_age`: past it, VACUUM scans the whole table and freezes what it can. */
  freezeAge: 150_000_000,
};

export type Thresholds = typeof AUTOVACUUM;

export const MAINTENANCE_TICK_MS = 60_000;

/** What a pass did to one table. */
export interface Maintained {
  table: string;
  work: 'vacuum' | 'analyze';
  ms: number;
}

interface TableStats {
  schema: string;
  table: string;
  dead: number;
  inserted: number;
  modified: number;
  rows: number;
  xidAge: number;
}

/** The tables of the database's own schema, with what autovacuum reads of each. */
async function tableStats(db: Db): Promise<TableStats[]> {
  const { rows } = await sql<TableStats>`
    select s.schemaname as schema, s.relname as "table", s.n_dead_tup::float8 as dead,
      s.n_ins_since_vacuum::float8 as inserted, s.n_mod_since_analyze::float8 as modified,
      greatest(c.reltuples, 0)::float8 as rows, age(c.relfrozenxid)::float8 as "xidAge"
    from pg_stat_user_tables s join pg_class c on c.oid = s.relid
    where s.schemaname = current_schema()
    order by s.relname`.execute(db);
  return rows;
}

/** What a table is due for, by autovacuum's rules; null when nothing. */
function dueFor(t: TableStats, o: Thresholds = AUTOVACUUM): Maintained['work'] | null {
  if (
    t.dead > o.vacuumThreshold + o.vacuumScaleFactor * t.rows ||
    t.inserted > o.insertThreshold + o.insertScaleFactor * t.rows ||
    t.xidAge > o.freezeAge
  )
    return 'vacuum';
  if (t.modified > o.analyzeThreshold + o.analyzeScaleFactor * t.rows) return 'analyze';
  return null;
}

/** One maintenance pass: VACUUM (with ANALYZE) or ANALYZE each table that is due; what it did. */
export async function maintain(db: Db, o: Thresholds = AUTOVACUUM): Promise<Maintained[]> {
  const done: Maintained[] = [];
  for (const t of await tableStats(db)) {
    const work = dueFor(t, o);
    if (!work) continue;
    const started = performance.now();
    const table = sql.id(t.schema, t.table);
    await (work === 'vacuum' ? sql`vacuum (analyze) ${table}` : sql`analyze ${table}`).execute(db);
    done.push({ table: t.table, work, ms: Math.round(performance.now() - started) });
  }
  return done;
}

/**
 * Runs `maintain` every `MAINTENANCE_TICK_MS` on an unref'd timer (it never holds the process
 * open), one pass at a time; returns the stop. For the embedded database only: a PostgreSQL
 * server runs its own autovacuum.
 */
export function scheduleEmbeddedMaintenance(deps: {
  db: Db;
  log: Pick<Logger, 'debug' | 'error'>;
}): () => void {
  return every(
    MAINTENANCE_TICK_MS,
    async () => {
      const done = await maintain(deps.db);
      if (done.length > 0) deps.log.debug({ tables: done }, 'embedded database maintained');
    },
    (err) => deps.log.error({ err }, 'embedded database maintenance failed'),
  );
}
