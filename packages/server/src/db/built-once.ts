import {
  type Compilable,
  type CompiledQuery,
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type RawBuilder,
} from 'kysely';
import type { Executor } from './executor.js';
import type { Database } from './schema.js';

/**
 * Statements on the hot paths (validating a token, the token endpoint's grants), built and compiled
 * once per process; each call only binds its values. Building a query with Kysely and compiling it
 * to SQL costs more on the HTTP thread than running it takes on the database: 15–30 µs for one
 * token lookup, against one bind here.
 *
 * `build` gets a query builder that runs nothing and, for each value the statement takes, a
 * placeholder in its place (`p.hash`): it must build the same SQL whatever the values are, so it
 * may use the placeholders only as values, never to decide the statement's shape (a statement with
 * two shapes is two `builtOnce`). The compiled SQL is the same for every database Latchkey runs
 * on: PGlite is PostgreSQL, and both dialects compile with Kysely's PostgreSQL compiler.
 */
export interface BuiltOnce<P, R> {
  /**
   * The statement with these values bound, to run on `db` (with `db.executeQuery` or
   * `executeGrouped`). A handle with Kysely plugins (none in the server; the tests' query counter)
   * has them applied to the statement, as Kysely applies them to every query it compiles.
   */
  bind(values: P, db: Executor): CompiledQuery<R>;
  /** Runs it on `db` (the database or a transaction); its rows. */
  rows(db: Executor, values: P): Promise<R[]>;
  /** Runs it on `db`; its first row, or undefined. */
  first(db: Executor, values: P): Promise<R | undefined>;
}

/** Builds queries and never runs them. */
const builder = new Kysely<Database>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

/** Where a value goes; never sent to the database (`bind` replaces every one). */
class Placeholder {
  constructor(readonly name: string) {}
}

export function builtOnce<P extends object, R>(
  build: (qb: Kysely<Database>, p: P) => Compilable<R> | RawBuilder<R>,
): BuiltOnce<P, R> {
  // Its parameters are placeholders (one of the call's values) or constants the statement names.
  let compiled: CompiledQuery<R> | null = null;

  const compile = () => {
    const placeholders = new Map<string, Placeholder>();
    const p = new Proxy({} as P, {
      get(_, key) {
        if (typeof key !== 'string') return undefined;
        let ph = placeholders.get(key);
        if (!ph) placeholders.set(key, (ph = new Placeholder(key)));
        return ph;
      },
    });
    // A query builder compiles with the database it was made from, a `sql` template with the one it
    // is given: either way, the builder above.
    const query = (build(builder, p) as RawBuilder<R>).compile(builder);
    for (const v of query.parameters) {
      if (!(v instanceof Placeholder) && v !== null && typeof v === 'object')
        throw new Error(`builtOnce: a constant parameter must be a plain value: ${query.sql}`);
    }
    // A placeholder that is not a parameter was used to shape the statement, or wrapped in
    // something Kysely does not see as a value: either way its values would never be bound.
    for (const ph of placeholders.values()) {
      if (!query.parameters.includes(ph))
        throw new Error(`builtOnce: "${ph.name}" is not a parameter of ${query.sql}`);
    }
    return query;
  };

  // Each field named, not `...query` then `parameters`: on Node 20 a property after a spread is slow.
  const withValues = (query: CompiledQuery<R>, values: P): CompiledQuery<R> => ({
    query: query.query,
    queryId: query.queryId,
    sql: query.sql,
    parameters: query.parameters.map((v) => {
      if (!(v instanceof Placeholder)) return v;
      const bound = (values as Record<string, unknown>)[v.name];
      if (bound === undefined) throw new Error(`builtOnce: no value for "${v.name}" in ${query.sql}`);
      return bound;
    }),
  });

  const bind = (values: P, db: Executor): CompiledQuery<R> => {
    compiled ??= compile();
    const executor = db.getExecutor();
    if (executor.plugins.length === 0) return withValues(compiled, values);
    // The built query still holds the placeholders: transform and compile it as Kysely would, then bind.
    const node = executor.transformQuery(compiled.query, compiled.queryId);
    return withValues(executor.compileQuery<R>(node, compiled.queryId), values);
  };

  return {
    bind,
    rows: async (db, values) => (await db.executeQuery(bind(values, db))).rows,
    first: async (db, values) => (await db.executeQuery(bind(values, db))).rows[0],
  };
}
