import {
  CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import type { PGliteLike, QueryResultLike } from './pglite-thread.js';

/**
 * Kysely dialect for PGlite. PGlite is one connection that runs what it is sent in order, so:
 * - statements outside a transaction are sent at once, without waiting for the ones before them
 *   to return: on the database thread they queue, and the HTTP thread never waits for a round
 *   trip before sending the next;
 * - a transaction owns the database from `begin` to `commit` or `rollback`: transactions run one
 *   at a time, and while one is open every other statement waits to be sent until it ends, so
 *   nothing runs inside someone else's transaction.
 * (Consequence: never use the outer `db` inside a transaction callback; it would wait forever.)
 */
export class PGliteDialect implements Dialect {
  readonly #driver: PGliteDriver;
  constructor(pglite: PGliteLike) {
    this.#driver = new PGliteDriver(pglite);
  }
  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return this.#driver;
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new PostgresIntrospector(db);
  }
  /** Runs `queries` as one transaction, outside any other: all commit, or none does. */
  group(queries: CompiledQuery[]): Promise<QueryResult<unknown>[]> {
    return this.#driver.group(queries);
  }
}

class Mutex {
  #tail: Promise<void> = Promise.resolve();
  lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => {
      release = r;
    });
    const acquired = this.#tail.then(() => release);
    this.#tail = this.#tail.then(() => next);
    return acquired;
  }
}

const toResult = <R>(res: QueryResultLike<R>): QueryResult<R> => ({
  rows: res.rows,
  ...(res.affectedRows !== undefined ? { numAffectedRows: BigInt(res.affectedRows) } : {}),
});

class PGliteDriver implements Driver {
  readonly #transactions = new Mutex();
  /** The connection whose transaction is open, and how to end it. */
  #open: { owner: PGliteConnection; ended: Promise<void>; end: () => void } | null = null;

  constructor(private readonly pglite: PGliteLike) {}
  async init() {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return new PGliteConnection(this);
  }
  async beginTransaction(conn: DatabaseConnection, settings: TransactionSettings) {
    const release = await this.#transactions.lock();
    let end!: () => void;
    const ended = new Promise<void>((resolve) => {
      end = () => {
        resolve();
        release();
      };
    });
    this.#open = { owner: conn as PGliteConnection, ended, end };
    const iso = settings.isolationLevel ? ` isolation level ${settings.isolationLevel}` : '';
    try {
      await conn.executeQuery(CompiledQuery.raw(`begin${iso}`));
    } catch (err) {
      this.#end(conn);
      throw err;
    }
  }
  async commitTransaction(conn: DatabaseConnection) {
    try {
      await conn.executeQuery(CompiledQuery.raw('commit'));
    } finally {
      this.#end(conn);
    }
  }
  async rollbackTransaction(conn: DatabaseConnection) {
    try {
      await conn.executeQuery(CompiledQuery.raw('rollback'));
    } finally {
      this.#end(conn);
    }
  }
  async releaseConnection(conn: DatabaseConnection) {
    this.#end(conn);
  }
  async destroy() {}

  #end(conn: DatabaseConnection) {
    if (this.#open?.owner !== conn) return;
    const { end } = this.#open;
    this.#open = null;
    end();
  }

  /** Waits until no transaction but `conn`'s own is open. */
  async #turn(conn: PGliteConnection | null): Promise<void> {
    while (this.#open && this.#open.owner !== conn) await this.#open.ended;
  }

  async execute<R>(conn: PGliteConnection, q: CompiledQuery): Promise<QueryResult<R>> {
    if (this.#open && this.#open.owner !== conn) await this.#turn(conn);
    return toResult(await this.pglite.query<R>(q.sql, q.parameters as unknown[]));
  }

  async group(queries: CompiledQuery[]): Promise<QueryResult<unknown>[]> {
    if (this.#open) await this.#turn(null);
    const results = await this.pglite.group(
      queries.map((q) => ({ sql: q.sql, params: q.parameters as unknown[] })),
    );
    return results.map(toResult);
  }
}

class PGliteConnection implements DatabaseConnection {
  constructor(private readonly driver: PGliteDriver) {}
  executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
    return this.driver.execute<R>(this, q);
  }
  // Streaming is not supported on PGlite.
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming queries are not supported on PGlite');
  }
}
