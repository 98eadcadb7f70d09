import { createHash } from 'node:crypto';
import type { PostgresPool, PostgresPoolClient } from 'kysely';
import type pg from 'pg';
import type { StatementNamer } from './pg-pipeline.js';

/**
 * A PostgreSQL pool whose queries run as named prepared statements: each connection parses and
 * plans a statement text once and then only binds and executes it. The token endpoint's
 * statements are long (check, rotate, issue and audit in one), so planning is a real share of
 * their cost.
 *
 * Only queries are named (select, insert, update, delete, with); at most `MAX_NAMED` distinct
 * texts per connection, after which new texts run unnamed. A statement PostgreSQL says was made
 * stale by a schema change (`0A000`) is run again unnamed. Connection poolers in transaction mode
 * that do not carry prepared statements (PgBouncer before 1.21) need them off:
 * `DATABASE_PREPARED_STATEMENTS=false`.
 */
export const MAX_NAMED = 300;

const PREPARABLE = /^\s*(select|insert|update|delete|with)\b/i;

const hashName = (text: string) => `lk_${createHash('sha256').update(text).digest('base64url').slice(0, 24)}`;

/**
 * Names statement texts per connection: a preparable text gets its name (the connection parses it
 * the first time), until the connection holds `MAX_NAMED`; then new texts run unnamed (null).
 */
export function statementNamer(): StatementNamer {
  const namedBy = new WeakMap<pg.PoolClient, Set<string>>();
  // Each text's name, hashed once: the same texts come back on every request.
  const names = new Map<string, string>();
  const nameOf = (text: string) => {
    let name = names.get(text);
    if (name === undefined) {
      name = hashName(text);
      if (names.size < MAX_NAMED) names.set(text, name);
    }
    return name;
  };
  return (client, text) => {
    if (!PREPARABLE.test(text)) return null;
    let seen = namedBy.get(client);
    if (!seen) namedBy.set(client, (seen = new Set()));
    const name = nameOf(text);
    if (!seen.has(name)) {
      if (seen.size >= MAX_NAMED) return null;
      seen.add(name);
    }
    return name;
  };
}

/** `pool` for Kysely, its queries run as named statements as `nameOn` names them. */
export function withNamedStatements(pool: pg.Pool, nameOn: StatementNamer): PostgresPool {
  return {
    async connect(): Promise<PostgresPoolClient> {
      const client = await pool.connect();
      const query = async (text: string, values: readonly unknown[]) => {
        const name = nameOn(client, text);
        if (name === null) return client.query(text, values as unknown[]);
        try {
          return await client.query({ name, text, values: values as unknown[] });
        } catch (err) {
          if ((err as { code?: string }).code !== '0A000') throw err;
          return client.query(text, values as unknown[]);
        }
      };
      return {
        query: ((textOrCursor: unknown, values?: readonly unknown[]) =>
          typeof textOrCursor === 'string'
            ? query(textOrCursor, values ?? [])
            : client.query(textOrCursor as pg.Submittable)) as unknown as PostgresPoolClient['query'],
        release: () => client.release(),
      };
    },
    end: () => pool.end(),
  };
}
