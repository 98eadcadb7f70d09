import type { CompiledQuery, QueryResult, RawBuilder } from 'kysely';
import type { Db } from './connection.js';
import type { Executor } from './executor.js';
import { joinRows, type RowsPart, type RowsStatement, splitRows } from './rows-statement.js';

/**
 * Group commit. Concurrent single-statement writes (the token endpoint's code exchanges, rotations
 * and client-credentials grants) would otherwise each pay a commit — on PGlite, its one connection,
 * one after another; on PostgreSQL, a write to a backend, its wake-up and a WAL flush each. Here
 * they queue while a group is running and then commit together, in one transaction: no timer, no
 * added wait when the server is idle (a lone statement runs at once), and larger groups the busier
 * it gets. Each caller is answered only after the commit that contains its statement, so what was
 * acknowledged is as durable as before.
 *
 * Statements must be independent and each complete on its own (one atomic statement per request):
 * a later statement in a group sees the earlier ones' effects, exactly as if they had run one after
 * another. If any statement of a group fails, the group is rolled back and each statement runs
 * again on its own, so one caller's error never becomes another's.
 *
 * A group is one message to the embedded database's thread, or one pipeline to PostgreSQL
 * (`pg-pipeline.ts`).
 *
 * Callers of the same rows statement (`executeRows`) in a group share one execution of it, over
 * all their rows: the statement's fixed cost (binding, the executor's start and end, the result)
 * is paid once per group instead of once per row.
 */

interface Pending {
  query: CompiledQuery;
  /** For `executeRows`: the statement, and this caller's rows as a JSON array. */
  rows?: RowsPart & { statement: RowsStatement };
  resolve: (r: QueryResult<unknown>) => void;
  reject: (e: unknown) => void;
}

/** Runs queries as one transaction: all commit, or none does (one result per query). */
export type RunTogether = (queries: CompiledQuery[]) => Promise<QueryResult<unknown>[]>;

interface Group {
  queue: Pending[];
  running: boolean;
  together: RunTogether;
  retryAlone: (err: unknown) => boolean;
}

const groups = new WeakMap<Executor, Group>();

/**
 * Marks `db` as one whose single-statement writes commit in groups, each group run by `together`.
 * `retryAlone` says whether a failed group committed nothing, so that each statement may run again
 * on its own (default: always); when it says no, every caller of the group gets the failure.
 */
export function enableGroupCommit(
  db: Db,
  together: RunTogether,
  o: { retryAlone?: (err: unknown) => boolean } = {},
): void {
  groups.set(db, { queue: [], running: false, together, retryAlone: o.retryAlone ?? (() => true) });
}

/**
 * Lets `derived` (the same database under another handle, such as one with Kysely plugins) commit
 * in `db`'s groups: its statements then queue with `db`'s instead of each running alone.
 */
export function shareGroupCommit(db: Db, derived: Db): void {
  const group = groups.get(db);
  if (group) groups.set(derived, group);
}

/**
 * Runs one self-contained statement (a `sql` template, or a built-once statement's `bind`),
 * committed alone or with others that arrive meanwhile.
 */
export async function executeGrouped<R>(
  db: Db,
  query: RawBuilder<R> | CompiledQuery<R>,
): Promise<QueryResult<R>> {
  return submit(db, 'compile' in query ? query.compile(db) : query) as Promise<QueryResult<R>>;
}

/**
 * Runs a rows statement over `rows` (committed alone or with others, as `executeGrouped`), sharing
 * one execution with concurrent callers of the same statement; answers the statement's rows for
 * `rows` (`n` counted in `rows`, 1-based). In a transaction, it runs there, alone.
 */
export async function executeRows<R extends object>(
  db: Executor,
  statement: RowsStatement<R>,
  rows: readonly object[],
): Promise<(R & { n: number })[]> {
  if (rows.length === 0) return [];
  const json = JSON.stringify(rows);
  const result = await submit(db, statement.bind({ rows: json }, db), {
    statement,
    json,
    count: rows.length,
  });
  return result.rows as (R & { n: number })[];
}

/**
 * Runs `query` now, as a group of its own beside the queue: one message to the embedded database's
 * thread that leaves without waiting for the end of the turn, or one pipeline on PostgreSQL. For a
 * statement that has gathered its callers already (`readRows`).
 */
export async function executeAtOnce<R>(db: Executor, query: CompiledQuery<R>): Promise<QueryResult<R>> {
  const group = groups.get(db);
  if (!group) return db.executeQuery(query);
  const [result] = await group.together([query]);
  return result as QueryResult<R>;
}

/** Queues a statement in `db`'s group (running it at once when none is running); else runs it there. */
function submit(db: Executor, query: CompiledQuery, rows?: Pending['rows']): Promise<QueryResult<unknown>> {
  const group = groups.get(db);
  if (!group) return db.executeQuery(query);
  return new Promise((resolve, reject) => {
    group.queue.push({ query, rows, resolve, reject });
    if (!group.running) void drain(db as Db, group);
  });
}

// One group at a time: while it runs, the next one gathers. (Two at a time on PostgreSQL measured
// worse: smaller groups, and the two contend for the same two cores.) When a group is done, the
// next one is sent before the callers of the done one are answered: the database starts on it
// while this thread writes their responses, instead of waiting for them.
async function drain(db: Db, group: Group): Promise<void> {
  group.running = true;
  let answer: (() => void) | null = null;
  try {
    while (group.queue.length > 0) {
      const running = runBatch(db, group, group.queue.splice(0, group.queue.length));
      answer?.();
      answer = null;
      answer = await running;
    }
  } finally {
    group.running = false;
    answer?.();
  }
}

type Outcome = { ok: true; result: QueryResult<unknown> } | { ok: false; error: unknown };

const outcomeOf = (q: Promise<QueryResult<unknown>>): Promise<Outcome> =>
  q.then(
    (result) => ({ ok: true, result }),
    (error: unknown) => ({ ok: false, error }),
  );

/** Runs a group; resolves to what answers its callers (each its own outcome), once it is done. */
async function runBatch(db: Db, group: Group, batch: Pending[]): Promise<() => void> {
  const answer = (outcomes: Outcome[]) => () =>
    batch.forEach((p, i) => {
      const o = outcomes[i]!;
      if (o.ok) p.resolve(o.result);
      else p.reject(o.error);
    });
  if (batch.length === 1) return answer([await outcomeOf(db.executeQuery(batch[0]!.query))]);
  const units = merged(db, batch);
  try {
    const results = await group.together(units.map((u) => u.query));
    const outcomes: Outcome[] = [];
    units.forEach((u, i) => {
      for (const [at, result] of u.split(results[i]!)) outcomes[at] = { ok: true, result };
    });
    return answer(outcomes);
  } catch (error) {
    if (!group.retryAlone(error)) return answer(batch.map(() => ({ ok: false, error })));
  }
  // Something in the group failed (or its commit did): nothing of it was committed. Each statement
  // runs again alone, and each caller gets its own outcome.
  const outcomes: Outcome[] = [];
  for (const p of batch) outcomes.push(await outcomeOf(db.executeQuery(p.query)));
  return answer(outcomes);
}

/** A query of the group and which callers' results it holds (by their place in the batch). */
interface Unit {
  query: CompiledQuery;
  split: (r: QueryResult<unknown>) => [number, QueryResult<unknown>][];
}

/**
 * The batch as the queries to run, in the callers' order: each caller's own, except that callers
 * of the same rows statement share one query over their rows, run where the first of them stands,
 * the others' positions shifted back on the way out.
 */
function merged(db: Db, batch: Pending[]): Unit[] {
  const sharing = new Map<RowsStatement, number[]>();
  batch.forEach((p, at) => {
    if (!p.rows) return;
    if (sharing.has(p.rows.statement)) sharing.get(p.rows.statement)!.push(at);
    else sharing.set(p.rows.statement, [at]);
  });
  const units: Unit[] = [];
  batch.forEach((p, at) => {
    const ats = p.rows ? sharing.get(p.rows.statement)! : [at];
    if (ats.length === 1) units.push({ query: p.query, split: (r) => [[at, r]] });
    else if (ats[0] === at) units.push(shared(db, p.rows!.statement, batch, ats));
  });
  return units;
}

/** One run of `statement` over the rows of the callers at `ats`, each answered its own positions. */
function shared(db: Db, statement: RowsStatement, batch: Pending[], ats: number[]): Unit {
  const parts = ats.map((at) => batch[at]!.rows!);
  return {
    query: statement.bind({ rows: joinRows(parts) }, db),
    split: (r) => {
      const split = splitRows(r.rows as { n: number }[], parts);
      return ats.map((at, i) => [at, { rows: split[i]! }]);
    },
  };
}
