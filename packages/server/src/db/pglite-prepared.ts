import { type PGlite, parse, protocol } from '@electric-sql/pglite';
import type { PGliteLike, QueryItem, QueryResultLike } from './pglite-thread.js';

/**
 * PGlite with prepared statements. `PGlite.query` parses and plans every statement anew, which on
 * the embedded database costs several times what running it does (about 0.4 ms against 0.06 ms
 * for a token-endpoint statement). Here each distinct statement text is parsed once into a named
 * prepared statement, and later calls only bind and execute it: PostgreSQL keeps the plan.
 *
 * Only queries (select, insert, update, delete, with) are prepared; anything else — transaction
 * control, DDL — runs as before, and DDL forgets every prepared statement, since it may change
 * what they return. At most `MAX_STATEMENTS` are kept; the least recently used is closed.
 *
 * Each execution is one call into PostgreSQL: Bind, Describe, Execute and Sync in one buffer.
 * `group` runs several statements in one buffer with a single Sync at the end, which makes them
 * one implicit transaction: all commit together, or none does.
 */
export const MAX_STATEMENTS = 200;

const PREPARABLE = /^\s*(select|insert|update|delete|with)\b/i;
const TRANSACTION_CONTROL = /^\s*(begin|start|commit|end|rollback|savepoint|release)\b/i;
/** `cached plan must not change result type`; `prepared statement … does not exist`. */
const STALE = new Set(['0A000', '26000']);
const noSync = { syncToFs: false };
type BackendMessage = Parameters<typeof parse.parseResults>[0][number];

interface Statement {
  name: string;
  /** Parameter type OIDs, as PostgreSQL inferred them when it parsed the statement. */
  types: number[];
}

export function withPreparedStatements(pglite: PGlite): PGliteLike {
  const statements = new Map<string, Statement>();
  const toClose: string[] = [];
  let counter = 0;
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
    const statement = { name, types: parse.parseDescribeStatementResults(described) };
    statements.set(text, statement);
    if (statements.size > MAX_STATEMENTS) {
      const [oldest, old] = statements.entries().next().value as [string, Statement];
      statements.delete(oldest);
      toClose.push(old.name);
    }
    return statement;
  }

  /** Bind, Describe and Execute of one prepared statement (no Sync). */
  async function execution(text: string, params: unknown[]): Promise<Uint8Array[]> {
    const statement = await prepare(text);
    const values = params.map((v, i) => {
      if (v === null || v === undefined) return null;
      const serialize = pglite.serializers[statement.types[i]!];
      return serialize ? serialize(v) : String(v);
    });
    return [
      protocol.serialize.bind({ statement: statement.name, values }),
      protocol.serialize.describe({ type: 'P' }),
      protocol.serialize.execute({}),
    ];
  }

  /** Runs `items` in one buffer ending in one Sync: one transaction. One result per statement. */
  async function run(items: QueryItem[]): Promise<QueryResultLike[]> {
    for (const name of toClose.splice(0)) await send(protocol.serialize.close({ type: 'S', name }));
    const parts: Uint8Array[] = [];
    try {
      for (const item of items) parts.push(...(await execution(item.sql, item.params)));
    } catch (err) {
      // Preparing failed (a statement PostgreSQL cannot parse): end the exchange it left open.
      await send(protocol.serialize.sync()).catch(() => {});
      throw err;
    }
    parts.push(protocol.serialize.sync());
    // A database error is thrown once the whole buffer has run, Sync included.
    const messages = await send(concat(parts));
    await pglite.syncToFs();
    return splitResults(messages, items.length).map((m) => {
      const r = parse.parseResults(m, pglite.parsers)[0]!;
      return { rows: r.rows, ...(r.affectedRows !== undefined ? { affectedRows: r.affectedRows } : {}) };
    });
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
        if (!TRANSACTION_CONTROL.test(sql)) forgetAll();
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

/** The backend messages of each statement: everything up to and including its CommandComplete. */
function splitResults(messages: BackendMessage[], count: number): BackendMessage[][] {
  const out: BackendMessage[][] = [];
  let current: BackendMessage[] = [];
  for (const m of messages) {
    current.push(m);
    if (m.name === 'commandComplete') {
      out.push(current);
      current = [];
    }
  }
  if (out.length !== count) throw new Error(`expected ${count} results from the database, got ${out.length}`);
  return out;
}
