import { createRequire } from 'node:module';
import type { CompiledQuery, QueryResult } from 'kysely';
import pg from 'pg';

/**
 * Several statements sent to PostgreSQL as one pipeline (protocol §55.2.4): each statement's
 * Bind, Describe and Execute (and Parse, the first time a connection sees a named statement),
 * then a single Sync, in one write. PostgreSQL runs everything before the Sync as one implicit
 * transaction: all commit together, or, at the first error, none does. One write, one backend
 * woken, one commit (one WAL flush) for the group, where statements sent one by one pay each.
 *
 * node-postgres has no pipeline API, but it runs any object with a `submit(connection)` method in
 * its query queue and hands it the backend's messages (the "submittable" protocol pg-cursor and
 * pg-query-stream use); each statement's rows are read by a `pg.Query` of its own, so types are
 * parsed exactly as for any other query.
 */

// pg's value encoder (Dates, arrays, JSON, Buffers), the one every `pg.Query` binds with.
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as {
  prepareValue: (v: unknown) => unknown;
};

/** The parts of node-postgres's connection a pipeline writes to. */
interface Wire {
  stream: { cork?: () => void; uncork?: () => void };
  parsedStatements: Record<string, string>;
  submittedNamedStatements: Record<string, string>;
  parse(m: { text: string; name: string }): void;
  bind(m: { portal: string; statement: string; values: unknown[] }): void;
  describe(m: { type: 'P'; name: string }): void;
  execute(m: { portal: string }): void;
  sync(): void;
}

/** What `pg.Query` does with the messages of one statement. */
interface StatementReader {
  handleRowDescription(msg: unknown): void;
  handleDataRow(msg: unknown): void;
  handleCommandComplete(msg: unknown, c: Wire): void;
  handleReadyForQuery(c: Wire): void;
}

interface PgResult {
  command: string;
  rowCount: number | null;
  rows: unknown[];
}

/** The name a statement text runs under on a connection (null: unnamed). */
export type StatementNamer = (client: pg.PoolClient, text: string) => string | null;

/** One statement of a pipeline: its text, values and, when prepared, its statement name. */
export interface PipelinedStatement {
  text: string;
  values: readonly unknown[];
  /** A named (prepared) statement; null runs it unnamed (parsed and planned every time). */
  name: string | null;
}

/** The submittable node-postgres runs: writes the group, reads each statement's answer in turn. */
class Pipeline {
  /**
   * Whether a failure leaves the connection unfit to reuse: the group parsed named statements on
   * it (whether they exist once it failed cannot be told), or writing the group broke off half-way.
   */
  closeOnFailure = false;
  private readonly readers: (StatementReader & { result: PgResult | null })[];
  private current = 0;
  private settled = false;

  constructor(
    private readonly statements: readonly PipelinedStatement[],
    private readonly done: (err: unknown, results?: PgResult[]) => void,
  ) {
    this.readers = statements.map(() => {
      const reader = new pg.Query('', (_err, r) => {
        reader.result = r as unknown as PgResult;
      }) as unknown as StatementReader & { result: PgResult | null };
      reader.result = null;
      return reader;
    });
  }

  submit(c: Wire): Error | null {
    let values: unknown[][];
    try {
      // Encode every value before writing anything: a value that cannot be sent fails the group
      // with nothing on the wire.
      values = this.statements.map((s) => s.values.map(prepareValue));
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
    c.stream.cork?.();
    try {
      this.closeOnFailure = true;
      let parsed = false;
      this.statements.forEach((s, i) => {
        const name = s.name ?? '';
        if (s.name === null || !(s.name in c.parsedStatements || s.name in c.submittedNamedStatements)) {
          c.parse({ text: s.text, name });
          if (s.name !== null) {
            c.submittedNamedStatements[s.name] = s.text;
            parsed = true;
          }
        }
        c.bind({ portal: '', statement: name, values: values[i]! });
        c.describe({ type: 'P', name: '' });
        c.execute({ portal: '' });
      });
      c.sync();
      this.closeOnFailure = parsed;
    } finally {
      c.stream.uncork?.();
    }
    return null;
  }

  handleRowDescription(msg: unknown) {
    this.readers[this.current]!.handleRowDescription(msg);
  }

  handleDataRow(msg: unknown) {
    this.readers[this.current]!.handleDataRow(msg);
  }

  handleCommandComplete(msg: unknown, c: Wire) {
    this.readers[this.current]!.handleCommandComplete(msg, c);
    this.current++;
  }

  handleEmptyQuery() {
    this.current++;
  }

  handlePortalSuspended() {}

  handleCopyInResponse(c: { sendCopyFail(msg: string): void }) {
    c.sendCopyFail('COPY is not run in a pipeline');
  }

  handleCopyData() {}

  handleError(err: unknown) {
    if (this.settled) return;
    this.settled = true;
    this.done(err);
  }

  handleReadyForQuery(c: Wire) {
    if (this.settled) return;
    this.settled = true;
    for (const r of this.readers) r.handleReadyForQuery(c);
    this.done(
      null,
      this.readers.map((r) => r.result!),
    );
  }
}

const AFFECTS_ROWS = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

/** Kysely's result for a pg result (as its PostgreSQL driver makes it). */
const toQueryResult = (r: PgResult): QueryResult<unknown> => ({
  rows: r.rows ?? [],
  ...(AFFECTS_ROWS.has(r.command) ? { numAffectedRows: BigInt(r.rowCount ?? 0) } : {}),
});

/**
 * Runs `statements` as one pipeline on a connection of `pool`: every result, in order, once all
 * have committed; or the first error, and then nothing was committed. A connection whose pipeline
 * failed after parsing statements on it is closed (whether the failure came before or after a
 * Parse is unknown, so the connection's record of what it has prepared can no longer be trusted),
 * and so is one whose pipeline could not be written whole.
 */
export async function runPipeline(
  pool: pg.Pool,
  queries: readonly CompiledQuery[],
  nameOn: StatementNamer,
): Promise<QueryResult<unknown>[]> {
  const client = await pool.connect();
  let pipeline: Pipeline | null = null;
  try {
    const statements = queries.map((q) => ({
      text: q.sql,
      values: q.parameters,
      name: nameOn(client, q.sql),
    }));
    const results = await new Promise<PgResult[]>((resolve, reject) => {
      pipeline = new Pipeline(statements, (err, results) => (err ? reject(err) : resolve(results!)));
      client.query(pipeline as unknown as pg.Submittable);
    });
    client.release();
    return results.map(toQueryResult);
  } catch (err) {
    client.release((pipeline as Pipeline | null)?.closeOnFailure ? (err as Error) : undefined);
    throw err;
  }
}
