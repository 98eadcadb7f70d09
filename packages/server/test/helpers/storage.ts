import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import pg from 'pg';
import { openCache } from '../../src/cache/index.js';
import type { Cache } from '../../src/cache/types.js';
import { openStorage, type Storage } from '../../src/db/connection.js';
import { MIGRATION_LOCK_KEY, migrate } from '../../src/db/migrate.js';

/**
 * Which storage the suite runs on: `embedded` (PGlite + memory cache) or `external` (PostgreSQL
 * from DATABASE_URL + Redis from REDIS_URL). scripts/test.mjs runs the suite once per backend.
 */
export const BACKEND: 'embedded' | 'external' =
  process.env.LATCHKEY_TEST_BACKEND === 'external' ? 'external' : 'embedded';

export interface TestStorage {
  storage: Storage;
  cache: Cache;
  /** The database URL a separate server process can use to reach the same data (external only). */
  databaseUrl: string | null;
  redisUrl: string | null;
  redisPrefix: string | null;
  close(): Promise<void>;
}

function rand(): string {
  return randomBytes(6).toString('hex');
}

export function withSearchPath(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

/**
 * Drops a test schema under the migration lock: another file's migrator scans every schema in
 * the catalog and fails if one disappears during the scan.
 */
export async function dropSchema(c: pg.Client, schema: string): Promise<void> {
  await c.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
  try {
    await c.query(`drop schema if exists ${schema} cascade`);
  } finally {
    await c.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
  }
}

/** A new, empty PostgreSQL schema in `base`'s database: the URL that works in it, and its removal. */
export async function createTestSchema(base: string): Promise<{ url: string; drop(): Promise<void> }> {
  const schema = `t_${rand()}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  return {
    url: withSearchPath(base, schema),
    async drop() {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await dropSchema(c, schema);
      await c.end();
    },
  };
}

/** Fresh, migrated storage for one test file: its own PostgreSQL schema / PGlite instance and Redis prefix. */
export async function openTestStorage(): Promise<TestStorage> {
  if (BACKEND === 'external') {
    const base = process.env.DATABASE_URL;
    const redisUrl = process.env.REDIS_URL;
    if (!base || !redisUrl) throw new Error('the external test backend needs DATABASE_URL and REDIS_URL');
    const schema = await createTestSchema(base);
    const databaseUrl = schema.url;
    const storage = await openStorage({ databaseUrl, poolSize: 5 });
    await migrate(storage.db as never, storage.kind);
    const redisPrefix = `lkt:${rand()}:`;
    const cache = await openCache({ redisUrl, prefix: redisPrefix });
    return {
      storage,
      cache,
      databaseUrl,
      redisUrl,
      redisPrefix,
      async close() {
        await cache.close();
        await storage.close();
        await schema.drop();
        await deleteRedisPrefix(redisUrl, redisPrefix);
      },
    };
  }
  const template = process.env.LATCHKEY_TEST_TEMPLATE;
  const storage =
    template && existsSync(template)
      ? await openStorage({ databaseUrl: null, loadDataDir: new Blob([readFileSync(template)]) })
      : await openStorage({ databaseUrl: null });
  await migrate(storage.db as never, storage.kind);
  const cache = await openCache({ redisUrl: null });
  return {
    storage,
    cache,
    databaseUrl: null,
    redisUrl: null,
    redisPrefix: null,
    async close() {
      await cache.close();
      await storage.close();
    },
  };
}

export async function deleteRedisPrefix(url: string, prefix: string): Promise<void> {
  const r = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}
