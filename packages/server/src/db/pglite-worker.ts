import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { withPreparedStatements } from './pglite-prepared.js';
import {
  PGLITE_SETTINGS,
  type PGliteLike,
  type WorkerReply,
  type WorkerRequest,
  type WorkerStart,
} from './pglite-thread.js';

/**
 * The embedded database's own thread: it owns the PGlite instance, runs one statement (or one
 * group of statements) per message in arrival order and answers only once PGlite has returned,
 * which for a statement outside a transaction means once its commit is written to the data folder. The HTTP thread keeps serving
 * while PostgreSQL's WASM runs here, on the machine's other core.
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
  for (const m of batch) chain = chain.then(() => handle(m));
});

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
