import { Worker } from 'node:worker_threads';

export interface QueryItem {
  sql: string;
  params: unknown[];
}

export interface QueryResultLike<R = unknown> {
  rows: R[];
  affectedRows?: number;
}

/** What the Kysely dialect needs from an embedded database. */
export interface PGliteLike {
  /** One statement; outside a transaction it commits on its own. */
  query<R>(sql: string, params?: unknown[]): Promise<QueryResultLike<R>>;
  /** Queries that commit together or not at all, in one call: one result per statement. */
  group(items: QueryItem[]): Promise<QueryResultLike[]>;
}

/**
 * PostgreSQL settings for the embedded database. PGlite's defaults are a server's (128 MB of
 * shared buffers) and its WASM memory never shrinks; PostgreSQL's shared memory is zeroed when it
 * starts, so every megabyte of it is resident from the first moment. 16 MB of buffers takes a
 * restarted server from about 420 MB resident (the defaults) to about 270 MB; the token endpoint
 * measured as fast at 16 MB as at 32 MB, alternating builds (bench/oauth-token.mjs: code exchange
 * 1 404 and 1 783 against 1 282 and 1 612 req/s), and with 100 000 tokens and a million audit
 * events (bench/scale.mjs) a cold token and the audit page stay within a tenth of a small
 * database's speed: pages that do not fit are read from the data folder through the operating
 * system's cache. PGlite is one backend: process and lock tables sized for 100 connections, 10 WAL
 * senders and 10 replication slots are shared memory nothing uses. The lock table is sized per
 * backend slot, so with 8 slots (4 connections, autovacuum's 3 workers and launcher) each gets 256
 * locks: 2 048 in all (7 296 before), room for a migration that locks every table and index at once.
 *
 * Every prepared statement runs on its generic plan, made once. By default PostgreSQL plans the
 * first five executions for their values and then keeps planning per execution whenever the
 * generic plan looks dearer than those: the audit log's first page of an org holding half of a
 * million events (`limit $2`, whose generic estimate is a tenth of the rows) was planned anew on
 * every request, and planning in PGlite's WASM costs more than the page's index scan. The
 * statements Latchkey prepares name their rows by key, or read an index in order: their generic
 * plans are the plans a value would get.
 */
export const PGLITE_SETTINGS = [
  'shared_buffers = 16MB',
  'max_connections = 4',
  'max_locks_per_transaction = 256',
  'max_wal_senders = 0',
  'max_replication_slots = 0',
  'plan_cache_mode = force_generic_plan',
];

export interface WorkerStart {
  dataDir?: string;
  loadDataDir?: Blob;
}

export type WorkerRequest =
  | { id: number; op: 'query'; sql: string; params: unknown[] }
  | { id: number; op: 'group'; items: QueryItem[] }
  | { id: number; op: 'dump' }
  | { id: number; op: 'close' };

type Unnumbered = WorkerRequest extends infer U ? (U extends WorkerRequest ? Omit<U, 'id'> : never) : never;

export type WorkerReply =
  | {
      id: number;
      ok: true;
      rows?: unknown[];
      affectedRows?: number | undefined;
      results?: QueryResultLike[];
      blob?: Blob;
    }
  | { id: number; ok: false; error: Record<string, unknown> };

/** A statement that failed on the database thread, with PostgreSQL's fields (`code`, `constraint`…). */
export class DatabaseThreadError extends Error {
  constructor(fields: Record<string, unknown>) {
    super(typeof fields.message === 'string' ? fields.message : 'database error');
    for (const [k, v] of Object.entries(fields)) {
      if (k !== 'message' && k !== 'name' && k !== 'stack') (this as Record<string, unknown>)[k] = v;
    }
  }
}

export interface PGliteThread extends PGliteLike {
  dumpDataDir(compression?: 'none'): Promise<Blob>;
  close(): Promise<void>;
}

/**
 * Starts PGlite on a worker thread (`pglite-worker.ts`) and returns its handle. Calls made in the
 * same turn of the event loop travel together, as one message (an array), and so do the replies:
 * a message between threads costs tens of microseconds, more than a small statement. The thread
 * keeps the process alive only while a call is pending, so a server that is shut down, or a
 * command that has finished, is never held open by an idle database.
 */
export async function startPGliteThread(start: WorkerStart): Promise<PGliteThread> {
  // Built: pglite-worker.js beside this file. From source (tests run under tsx): the .ts, loaded
  // through tsx, whose hooks a worker thread does not inherit.
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(`./pglite-worker${fromSource ? '.ts' : '.js'}`, import.meta.url);
  const worker = fromSource
    ? new Worker(
        `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`,
        { eval: true, workerData: start },
      )
    : new Worker(entry, { workerData: start });
  const pending = new Map<
    number,
    { resolve: (r: WorkerReply & { ok: true }) => void; reject: (e: Error) => void }
  >();
  let nextId = 1;
  let failed: Error | null = null;

  const settleAll = (replies: WorkerReply[]) => {
    for (const m of replies) settle(m);
  };
  const settle = (m: WorkerReply) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (pending.size === 0) worker.unref();
    if (m.ok) p.resolve(m);
    else p.reject(new DatabaseThreadError(m.error));
  };
  const failAll = (err: Error) => {
    failed = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };

  const ready = new Promise<WorkerReply & { ok: true }>((resolve, reject) => {
    pending.set(0, { resolve, reject });
  });
  worker.on('message', settleAll);
  worker.on('error', (err) => failAll(err));
  worker.on('exit', (code) => failAll(new Error(`the database thread exited (${code})`)));
  await ready;

  let outbox: WorkerRequest[] = [];
  const flush = () => {
    const batch = outbox;
    if (batch.length === 0) return;
    outbox = [];
    if (!failed) worker.postMessage(batch);
  };
  const call = (req: Unnumbered): Promise<WorkerReply & { ok: true }> => {
    if (failed) return Promise.reject(failed);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      if (pending.size === 0) worker.ref();
      pending.set(id, { resolve, reject });
      const first = outbox.push(Object.assign(req, { id }) as WorkerRequest) === 1;
      // A group (of statements that commit together) is already a batch: it leaves at once, so
      // that the database starts on it while this thread writes the responses of the last one.
      if (req.op === 'group') flush();
      else if (first) setImmediate(flush);
    });
  };

  return {
    async query<R>(sql: string, params: unknown[] = []) {
      const r = await call({ op: 'query', sql, params });
      return {
        rows: (r.rows ?? []) as R[],
        ...(r.affectedRows !== undefined ? { affectedRows: r.affectedRows } : {}),
      };
    },
    async group(items: QueryItem[]) {
      const r = await call({ op: 'group', items });
      if (!r.results) throw new Error('the database thread sent no results');
      return r.results;
    },
    async dumpDataDir() {
      const r = await call({ op: 'dump' });
      if (!r.blob) throw new Error('the database thread sent no snapshot');
      return r.blob;
    },
    async close() {
      if (failed) return;
      await call({ op: 'close' });
      await worker.terminate();
    },
  };
}
