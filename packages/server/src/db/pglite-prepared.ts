import { type PGlite, parse, protocol } from '@electric-sql/pglite';
import { isPostgresError } from './database-error.js';
import { type Columns, columnsOf, readResults } from './pglite-results.js';
import type { PGliteLike, QueryItem, QueryResultLike } from './pglite-thread.js';

/**
 * PGlite with prepared statements. `PGlite.query` parses and plans every statement anew, which on
 * the embedded database costs several times what running it does (about 0.4 ms against 0.06 ms
 * for a token-endpoint statement). Here each distinct statement text is parsed once into a named
 * prepared statement, and later calls only bind and execute it: PostgreSQL keeps the plan.
 *
 * Only queries (select, insert, update, delete, with) are prepared; anything else — transaction
 * control, maintenance, DDL — runs as before, and DDL forgets every prepared statement, since it
 * may change what they return. At most `MAX_STATEMENTS` are kept; the least recently used is closed.
 *
 * Each execution is one call into PostgreSQL: Bind, Execute and Sync in one buffer. The columns a
 * statement returns are described once, when it is prepared, and that description is reused for
 * every execution: PostgreSQL does not send it again. The answer is read from its bytes
 * (`pglite-results.ts`).
 * `group` runs several statements in one buffer with a single Sync at the end, which makes them
 * one implicit transaction: all commit together, or none does.
 */
export const MAX_STATEMENTS = 200;

const PREPARABLE = /^\s*(select|insert|update|delete|with)\b/i;
/** Statements that cannot change what a prepared statement returns: transaction control, maintenance. */
const KEEPS_STATEMENTS = /^\s*(begin|start|commit|end|rollback|savepoint|release|vacuum|analyze)\b/i;
/** `cached plan must not change result type`; `prepared statement … does not exist`. */
const STALE = new Set(['0A000', '26000']);
const noSync = { syncToFs: false };

interface Statement {
  name: string;
  /** Parameter type OIDs, as PostgreSQL inferred them when it parsed the statement. */
  types: number[];
  /** The columns it returns (text format), or null when it returns none. */
  columns: Columns | null;
}

export function withPreparedStatements(pglite: PGlite): PGliteLike {
  const statements = new Map<string, Statement>();
  const toClose: string[] = [];
  let counter = 0;
  // PGlite's `syncToFs` copies the database to the browser's IndexedDB or OPFS; a data folder on
  // disk (its NodeFS) and memory have nothing to copy: PostgreSQL writes the folder's files through
  // Node's fs as it goes. Asking anyway cost a twentieth of the database thread (a lock per call).
  const syncs = /^(idb|opfs-ahp):\/\//.test(pglite.dataDir ?? '');
  const send = (message: Uint8Array) => pglite.execProtocolStream(message, noSync);

  const forgetAll = () => {
    for (const s of statements.values()) toClose.push(s.name);
    statements.clear();
  };

  async function prepare(text: string): Promise<Statement> {
    const known = statements.get(text);
    if (known) {
      // Most recently used last: the first entry is the one to close when full.
      statements.delete(text);
      statements.set(text, known);
      return known;
    }
    const name = `lk_${++counter}`;
    await send(protocol.serialize.parse({ name, text }));
    const described = await send(protocol.serialize.describe({ type: 'S', name }));
    const statement = {
      name,
      types: parse.parseDescribeStatementResults(described),
      columns: columnsOf(described, pglite.parsers),
    };
    statements.set(text, statement);
    if (statements.size > MAX_STATEMENTS) {
      const [oldest, old] = statements.entries().next().value as [string, Statement];
      statements.delete(oldest);
      toClose.push(old.name);
    }
    return statement;
  }

  /** Bind and Execute of one prepared statement (no Sync). */
  async function execution(
    text: string,
    params: unknown[],
  ): Promise<{ parts: Uint8Array[]; statement: Statement }> {
    const statement = await prepare(text);
    const values = params.map((v, i) => {
      if (v === null || v === undefined) return null;
      const serialize = pglite.serializers[statement.types[i]!];
      const text: unknown = serialize ? serialize(v) : String(v);
      if (typeof text !== 'string') throw new Error(`parameter ${i + 1} did not serialize to text`);
      return text;
    });
    return { parts: [bindExecute(statement.name, values)], statement };
  }

  /** Runs `items` in one buffer ending in one Sync: one transaction. One result per statement. */
  async function run(items: QueryItem[]): Promise<QueryResultLike[]> {
    for (const name of toClose.splice(0)) await send(protocol.serialize.close({ type: 'S', name }));
    const parts: Uint8Array[] = [];
    const columns: (Columns | null)[] = [];
    try {
      for (const item of items) {
        const e = await execution(item.sql, item.params);
        parts.push(...e.parts);
        columns.push(e.statement.columns);
      }
    } catch (err) {
      // Preparing failed (a statement PostgreSQL cannot parse): end the exchange it left open.
      await send(protocol.serialize.sync()).catch(() => {});
      throw err;
    }
    parts.push(protocol.serialize.sync());
    // The output as bytes, unparsed (PGlite would decode every message into objects first); the
    // chunks point into PostgreSQL's memory and are copied as they come. A database error is
    // thrown once the whole buffer has run, Sync included.
    const chunks: Uint8Array[] = [];
    await pglite.execProtocolRawStream(concat(parts), {
      ...noSync,
      onRawData: (c) => chunks.push(c.slice()),
    });
    if (syncs) await pglite.syncToFs();
    const results = readResults(chunks.length === 1 ? chunks[0]! : concat(chunks), columns);
    if (results.length !== items.length)
      throw new Error(`expected ${items.length} results from the database, got ${results.length}`);
    return results;
  }

  async function exclusive(items: QueryItem[]): Promise<QueryResultLike[]> {
    return pglite._runExclusiveQuery(async () => {
      try {
        return await run(items);
      } catch (err) {
        // A statement made stale by a change of schema: prepared again, once.
        if (!STALE.has((err as { code?: string }).code ?? '')) throw err;
        for (const item of items) {
          const stale = statements.get(item.sql);
          statements.delete(item.sql);
          if (stale) toClose.push(stale.name);
        }
        return await run(items);
      }
    });
  }

  return {
    async query<R>(sql: string, params: unknown[] = []) {
      if (!PREPARABLE.test(sql)) {
        if (!KEEPS_STATEMENTS.test(sql)) forgetAll();
        return pglite.query<R>(sql, params);
      }
      const [res] = await exclusive([{ sql, params }]);
      return res as { rows: R[]; affectedRows?: number };
    },
    async group(items: QueryItem[]) {
      if (items.some((i) => !PREPARABLE.test(i.sql))) throw new Error('a group holds queries only');
      return exclusive(items);
    },
  };
}

/** One statement's answer among several run together: its result, or the error it alone raised. */
export type Settled = { ok: true; result: QueryResultLike } | { ok: false; error: unknown };

/**
 * Runs statements that were sent independently and arrived together. Outside a transaction block
 * they run as one implicit transaction (one Sync): PostgreSQL then starts and ends one transaction
 * and opens each table's files once for all of them, about a fifth of a small indexed read's
 * cost. Each must answer as it would have alone, so if any of them fails (and the transaction
 * rolls back, none having committed), each runs again on its own. Inside a transaction block, or
 * for a statement that is not a query, they run one by one.
 */
export async function runTogether(
  pglite: PGlite,
  statements: PGliteLike,
  items: readonly QueryItem[],
): Promise<Settled[]> {
  if (items.length > 1 && !pglite.isInTransaction() && items.every((i) => PREPARABLE.test(i.sql))) {
    try {
      return (await statements.group([...items])).map((result) => ({ ok: true, result }));
    } catch (error) {
      // Rolled back: each runs alone below, and reports its own answer. Any other failure may
      // have come after the commit: each caller sees it, and nothing runs twice.
      if (!isPostgresError(error)) return items.map((): Settled => ({ ok: false, error }));
    }
  }
  const out: Settled[] = [];
  for (const item of items) {
    try {
      out.push({ ok: true, result: await statements.query(item.sql, item.params) });
    } catch (error) {
      out.push({ ok: false, error });
    }
  }
  return out;
}

/**
 * Bind (the unnamed portal of statement `name`, every value as text) and Execute (all rows), as one
 * buffer: the bytes PGlite's protocol serializer writes for the two messages, written straight
 * into a buffer of the right size instead of through its growing writer (which cost more than
 * running a small indexed read).
 */
export function bindExecute(name: string, values: (string | null)[]): Uint8Array {
  const nameBytes = Buffer.byteLength(name);
  const lengths = values.map((v) => (v === null ? -1 : Buffer.byteLength(v)));
  // Bind: portal "" \0, name \0, a format per value (0: text), the values (length, bytes), 0 result formats.
  let bindLength = 4 + 1 + nameBytes + 1 + 2 + 2 * values.length + 2 + 2;
  for (const n of lengths) bindLength += 4 + Math.max(n, 0);
  const out = Buffer.allocUnsafe(1 + bindLength + 1 + 4 + 1 + 4);
  let at = 0;
  out[at++] = 0x42; // 'B'
  at = out.writeInt32BE(bindLength, at);
  out[at++] = 0;
  at += out.write(name, at, 'utf8');
  out[at++] = 0;
  at = out.writeInt16BE(values.length, at);
  for (let i = 0; i < values.length; i++) at = out.writeInt16BE(0, at);
  at = out.writeInt16BE(values.length, at);
  values.forEach((v, i) => {
    at = out.writeInt32BE(lengths[i]!, at);
    if (v !== null) at += out.write(v, at, 'utf8');
  });
  at = out.writeInt16BE(0, at);
  // Execute: portal "" \0, no row limit.
  out[at++] = 0x45; // 'E'
  at = out.writeInt32BE(4 + 1 + 4, at);
  out[at++] = 0;
  out.writeInt32BE(0, at);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
