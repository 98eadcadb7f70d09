import type { CompiledQuery, QueryResult, RawBuilder } from 'kysely';
import type { Db } from './connection.js';

/**
 * Group commit for the embedded database. PGlite is one connection, so concurrent single-statement
 * writes (the token endpoint's code exchanges and rotations) would otherwise each pay a commit, one
 * after another. Here they queue while the connection is busy and then commit together, in one
 * transaction: no timer, no added wait when the server is idle (a lone statement runs at once), and
 * larger groups the busier it gets. Each caller is answered only after the commit that contains its
 * statement, so what was acknowledged is as durable as before.
 *
 * Statements must be independent and each complete on its own (one atomic statement per request):
 * a later statement in a group sees the earlier ones' effects, exactly as if they had run one after
 * another. If any statement of a group fails, the group is rolled back and each statement runs
 * again on its own, so one caller's error never becomes another's.
 *
 * PostgreSQL already groups the WAL flushes of concurrent commits, and its pool runs statements in
 * parallel: there, statements go straight to the pool.
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
}

const groups = new WeakMap<Db, Group>();

/**
 * Marks `db` (an embedded database) as one whose single-statement writes commit in groups, each
 * group run by `together` (the embedded database sends a group to its thread in one message).
 */
export function enableGroupCommit(db: Db, together: RunTogether): void {
  groups.set(db, { queue: [], running: false, together });
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

async function drain(db: Db, group: Group): Promise<void> {
  group.running = true;
  try {
    while (group.queue.length > 0) {
      const batch = group.queue.splice(0, group.queue.length);
      await runBatch(db, group.together, batch);
    }
  } finally {
    group.running = false;
  }
}

async function runBatch(db: Db, together: RunTogether, batch: Pending[]): Promise<void> {
  if (batch.length === 1) {
    const [only] = batch as [Pending];
    await db.executeQuery(only.query).then(only.resolve, only.reject);
    return;
  }
  let results: QueryResult<unknown>[] | null = null;
  try {
    results = await together(batch.map((p) => p.query));
  } catch {
    results = null;
  }
  if (results) {
    batch.forEach((p, i) => p.resolve(results[i]!));
    return;
  }
  // Something in the group failed (or its commit did): nothing of it was committed. Each statement
  // runs again alone, and each caller gets its own outcome.
  for (const p of batch) await db.executeQuery(p.query).then(p.resolve, p.reject);
}
