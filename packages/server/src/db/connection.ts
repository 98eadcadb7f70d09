import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import type { Kysely } from 'kysely';
import {
  PGLITE_SETTINGS,
  type PGliteLike,
  type PGliteThread,
  startPGliteThread,
  type WorkerStart,
} from './pglite-thread.js';
import { isPostgresError } from './database-error.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

export interface Storage {
  readonly db: Db;
  readonly kind: 'pglite' | 'postgres';
  ping(): Promise<void>;
  close(): Promise<void>;
  /** PGlite only: a snapshot of the data directory (used to seed test databases). */
  dump?(): Promise<Blob>;
}

export interface StorageOptions {
  /** postgres:// URL; null → embedded PGlite. */
  databaseUrl: string | null;
  /** Embedded: the folder that holds the database (created if missing). Omit for in-memory. */
  dataDir?: string;
  /** Embedded: start from this snapshot instead of an empty database. */
  loadDataDir?: Blob;
  poolSize?: number;
  /** PostgreSQL: run queries as named prepared statements (default true; see `pg-prepared.ts`). */
  preparedStatements?: boolean;
  /**
   * Embedded: run PGlite on its own worker thread, so that its WASM never takes the HTTP thread's
   * time. Default: on for a database in a data folder (the server), off in memory (tests, tools).
   */
  thread?: boolean;
}

/** The storage a server's settings name: PostgreSQL at `databaseUrl`, else PGlite in `dataDir`. */
export function openConfiguredStorage(c: {
  databaseUrl: string | null;
  dataDir: string;
  databasePreparedStatements: boolean;
}): Promise<Storage> {
  return openStorage({
    databaseUrl: c.databaseUrl,
    dataDir: c.dataDir,
    preparedStatements: c.databasePreparedStatements,
  });
}

export async function openStorage(opts: StorageOptions): Promise<Storage> {
  if (opts.databaseUrl)
    return openPostgres(opts.databaseUrl, opts.poolSize ?? 10, opts.preparedStatements ?? true);
  return openPGlite(opts);
}

async function openPostgres(url: string, max: number, prepared: boolean): Promise<Storage> {
  // Loaded only when used: the embedded shape never pays for the PostgreSQL driver.
  const [
    { default: pg },
    { Kysely, PostgresDialect, sql },
    { runPipeline },
    { statementNamer, withNamedStatements },
    { enableGroupCommit },
  ] = await Promise.all([
    import('pg'),
    import('kysely'),
    import('./pg-pipeline.js'),
    import('./pg-prepared.js'),
    import('./group-commit.js'),
  ]);
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 5000 });
  // An idle client that errors (server restart) must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  // Nor may a checked-out one: the pool stops listening to a client while it is lent out, and a
  // connection lost between two statements of a transaction then reaches nobody. Its statement in
  // flight, or the next, fails instead, and the pool drops the client when it comes back.
  pool.on('connect', (client) => client.on('error', () => {}));
  const nameOn = prepared ? statementNamer() : () => null;
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: prepared ? withNamedStatements(pool, nameOn) : pool }),
  });
  // A group is one pipeline on one connection. An error PostgreSQL answered means its implicit
  // transaction rolled back, so each statement may run again alone; any other failure (the
  // connection lost mid-way: the group may have committed) is every caller's to see.
  enableGroupCommit(db, (queries) => runPipeline(pool, queries, nameOn), {
    retryAlone: (err) => err instanceof pg.DatabaseError,
  });
  return {
    db,
    kind: 'postgres',
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: () => db.destroy(),
  };
}

async function openPGlite(opts: StorageOptions): Promise<Storage> {
  let dataDir: string | undefined;
  if (opts.dataDir) {
    mkdirSync(opts.dataDir, { recursive: true });
    dataDir = join(opts.dataDir, 'pgdata');
  }
  const start = {
    ...(dataDir ? { dataDir } : {}),
    ...(opts.loadDataDir ? { loadDataDir: opts.loadDataDir } : {}),
  };
  // The database starts opening first (on its own thread, PGlite loads there); the query
  // builder loads meanwhile.
  const [{ pglite, statements }, { Kysely, sql }, { PGliteDialect }, { enableGroupCommit }] =
    await Promise.all([
      (opts.thread ?? dataDir !== undefined)
        ? startPGliteThread(start).then((t) => ({ pglite: t, statements: t }))
        : openInThisThread(start),
      import('kysely'),
      import('./pglite-dialect.js'),
      import('./group-commit.js'),
    ]);
  const dialect = new PGliteDialect(statements);
  const db = new Kysely<Database>({ dialect });
  // As on PostgreSQL: only an error PostgreSQL answered rolled the group back (`isPostgresError`).
  enableGroupCommit(db, (queries) => dialect.group(queries), { retryAlone: isPostgresError });
  return {
    db,
    kind: 'pglite',
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: async () => {
      await db.destroy();
      await pglite.close();
    },
    dump: () => pglite.dumpDataDir('none') as Promise<Blob>,
  };
}

/** PGlite in this thread (tests and tools: an in-memory database, unless asked otherwise). */
async function openInThisThread(
  start: WorkerStart,
): Promise<{ pglite: PGlite | PGliteThread; statements: PGliteLike }> {
  const [{ PGlite }, { withPreparedStatements }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('./pglite-prepared.js'),
  ]);
  const pglite = await PGlite.create({ ...start, postgresqlconf: PGLITE_SETTINGS });
  return { pglite, statements: withPreparedStatements(pglite) };
}
