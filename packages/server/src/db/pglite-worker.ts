import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { runTogether, type Settled, withPreparedStatements } from './pglite-prepared.js';
import {
  PGLITE_SETTINGS,
  type PGliteLike,
  type WorkerReply,
  type WorkerRequest,
  type WorkerStart,
} from './pglite-thread.js';

/**
 * The embedded database's own thread: it owns the PGlite instance, runs the statements (and groups
 * of statements) it is sent in arrival order and answers each only once PGlite has returned, which
 * for a statement outside a transaction means once its commit is written to the data folder. The
 * HTTP thread keeps serving while PostgreSQL's WASM runs here, on the machine's other core.
 */
const port = parentPort;
if (!port) throw new Error('pglite-worker runs as a worker thread');
const start = workerData as WorkerStart;

/** What a failed statement carries back: PostgreSQL's error fields (code, constraint…) and the message. */
function errorFields(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const out: Record<string, unknown> = { message: err.message, name: err.name };
  for (const [k, v] of Object.entries(err)) {
    if (v === undefined || typeof v === 'function') continue;
    if (typeof v === 'object' && v !== null) continue;
    out[k] = v;
  }
  return out;
}

// Replies made in the same turn of the event loop travel together, as one message. A turn that
// runs longer than SLICE_MS (a batch of many statements) sends what it has so far: the HTTP thread
// goes on with the first answers while the rest still run, instead of idling through the whole turn.
const SLICE_MS = 0.25;
let outbox: WorkerReply[] = [];
let openedAt = 0;
const flush = () => {
  if (outbox.length === 0) return;
  const batch = outbox;
  outbox = [];
  port.postMessage(batch);
};
const reply = (m: WorkerReply) => {
  if (outbox.push(m) === 1) {
    openedAt = performance.now();
    setImmediate(flush);
  } else if (performance.now() - openedAt >= SLICE_MS) flush();
};

let pglite: PGlite;
let statements: PGliteLike;
try {
  pglite = await PGlite.create({
    postgresqlconf: PGLITE_SETTINGS,
    ...(start.dataDir ? { dataDir: start.dataDir } : {}),
    ...(start.loadDataDir ? { loadDataDir: start.loadDataDir } : {}),
  });
  statements = withPreparedStatements(pglite);
  reply({ id: 0, ok: true });
} catch (err) {
  reply({ id: 0, ok: false, error: errorFields(err) });
  flush();
  process.exit(1);
}

// Statements run strictly one after another, in the order they were sent: PGlite is one
// connection, and the sender (the dialect's driver) decides what may be sent while a transaction
// is open.
let chain: Promise<void> = Promise.resolve();
port.on('message', (batch: WorkerRequest[]) => {
  for (let i = 0; i < batch.length;) {
    const m = batch[i]!;
    const next = batch[i + 1];
    if (m.op === 'query' && next?.op === 'query') {
      chain = chain.then(() => handleTogether([m, next]));
      i += 2;
    } else {
      chain = chain.then(() => handle(m));
      i += 1;
    }
  }
});

type QueryRequest = Extract<WorkerRequest, { op: 'query' }>;

/**
 * Two single statements next to each other in a message were sent independently in the same turn:
 * they run together (`runTogether`), each still answered on its own. Pairs, because their answers
 * leave when the second is done: with a few clients each waiting for its answer, pairs measured
 * best (cold personal tokens, bench/token-validate.mjs's cache-disabled case, against running them
 * one by one: 1.07–1.11× the requests per second at 0.86–0.89× the CPU per request; groups of three
 * or four saved as much CPU but answered a little fewer requests than one by one).
 */
async function handleTogether(queries: QueryRequest[]): Promise<void> {
  const settled = await runTogether(pglite, statements, queries).catch((error: unknown) =>
    queries.map((): Settled => ({ ok: false, error })),
  );
  settled.forEach((s, k) => {
    const { id } = queries[k]!;
    if (s.ok) reply({ id, ok: true, rows: s.result.rows, affectedRows: s.result.affectedRows });
    else reply({ id, ok: false, error: errorFields(s.error) });
  });
}

async function handle(m: WorkerRequest): Promise<void> {
  try {
    switch (m.op) {
      case 'query': {
        const res = await statements!.query(m.sql, m.params);
        reply({ id: m.id, ok: true, rows: res.rows, affectedRows: res.affectedRows });
        return;
      }
      case 'group': {
        reply({ id: m.id, ok: true, results: await statements!.group(m.items) });
        return;
      }
      case 'dump': {
        reply({ id: m.id, ok: true, blob: (await pglite.dumpDataDir('none')) as Blob });
        return;
      }
      case 'close': {
        await pglite.close();
        reply({ id: m.id, ok: true });
        flush();
        port!.close();
        return;
      }
    }
  } catch (err) {
    reply({ id: m.id, ok: false, error: errorFields(err) });
  }
}
