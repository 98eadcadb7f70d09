import type { Executor } from './executor.js';
import { executeAtOnce } from './group-commit.js';
import { joinRows, type RowsPart, type RowsStatement, splitRows } from './rows-statement.js';

/**
 * Reads that share one execution. Callers of the same rows statement in the same turn of the event
 * loop (the requests parsed together, each reading its own row) are run as one statement over all
 * their rows, at the end of the turn: what the database pays per statement — binding, the
 * executor's start and end, locking the tables, the reply between threads — is paid once per turn
 * instead of once per caller. Each caller gets only its own rows. If the shared run fails, each
 * caller's rows run again alone, so one caller's error never becomes another's.
 *
 * In a transaction, the rows run at once, there: a transaction's statements keep their order.
 */
export function readRows<R extends object>(
  db: Executor,
  statement: RowsStatement<R>,
  rows: readonly object[],
): Promise<(R & { n: number })[]> {
  if (rows.length === 0) return Promise.resolve([]);
  const part: RowsPart = { json: JSON.stringify(rows), count: rows.length };
  if (db.isTransaction) return run(db, statement, [part]).then(([own]) => own!);
  let waiting = pending.get(db);
  if (!waiting) pending.set(db, (waiting = new Map()));
  const turn = waiting;
  return new Promise((resolve, reject) => {
    const caller: Caller = { part, resolve: resolve as Caller['resolve'], reject };
    const queued = turn.get(statement);
    if (queued) {
      queued.push(caller);
      return;
    }
    turn.set(statement, [caller]);
    setImmediate(() => {
      const callers = turn.get(statement)!;
      turn.delete(statement);
      void answer(db, statement, callers);
    });
  });
}

interface Caller {
  part: RowsPart;
  resolve: (rows: object[]) => void;
  reject: (e: unknown) => void;
}

/** Per database, the statements that have callers waiting for the end of this turn. */
const pending = new WeakMap<Executor, Map<RowsStatement<object>, Caller[]>>();

async function run<R extends object>(db: Executor, statement: RowsStatement<R>, parts: RowsPart[]) {
  const query = statement.bind({ rows: joinRows(parts) }, db);
  // Its callers are gathered: it leaves now, not at the end of the next turn.
  const result = await (db.isTransaction ? db.executeQuery(query) : executeAtOnce(db, query));
  return splitRows(result.rows, parts);
}

async function answer(db: Executor, statement: RowsStatement<object>, callers: Caller[]): Promise<void> {
  try {
    const split = await run(
      db,
      statement,
      callers.map((c) => c.part),
    );
    callers.forEach((c, i) => c.resolve(split[i]!));
    return;
  } catch (err) {
    if (callers.length === 1) {
      callers[0]!.reject(err);
      return;
    }
  }
  for (const c of callers) {
    await run(db, statement, [c.part]).then(
      ([own]) => c.resolve(own!),
      (err: unknown) => c.reject(err),
    );
  }
}
