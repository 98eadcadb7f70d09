import type { CompiledQuery, QueryResult, RawBuilder } from 'kysely';
import type { Db } from './connection.js';

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
 */

interface Pending {
  query: CompiledQuery;
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

const groups = new WeakMap<Db, Group>();

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
 * Runs one self-contained statement (a `sql` template, or a built-once statement's `bind`),
 * committed alone or with others that arrive meanwhile.
 */
export async function executeGrouped<R>(
  db: Db,
  query: RawBuilder<R> | CompiledQuery<R>,
): Promise<QueryResult<R>> {
  const compiled = 'compile' in query ? query.compile(db) : query;
  const group = groups.get(db);
  if (!group) return db.executeQuery<R>(compiled);
  return new Promise<QueryResult<R>>((resolve, reject) => {
    group.queue.push({ query: compiled, resolve: resolve as Pending['resolve'], reject });
    if (!group.running) void drain(db, group);
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
  try {
    const results = await group.together(batch.map((p) => p.query));
    return answer(results.map((result) => ({ ok: true, result })));
  } catch (error) {
    if (!group.retryAlone(error)) return answer(batch.map(() => ({ ok: false, error })));
  }
  // Something in the group failed (or its commit did): nothing of it was committed. Each statement
  // runs again alone, and each caller gets its own outcome.
  const outcomes: Outcome[] = [];
  for (const p of batch) outcomes.push(await outcomeOf(db.executeQuery(p.query)));
  return answer(outcomes);
}
