import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { openStorage } from '../../src/db/connection.js';
import { migrationNames } from '../../src/db/migrate.js';
import {
  BACKEND,
  dropSchema,
  openTestStorage,
  type TestStorage,
  withSearchPath,
} from '../helpers/storage.js';
import { ensureBuilt, killAll, removeDir, spawnServer, tempDir } from './proc.js';

// `latchkey-server migrate` applies each migration exactly once, even when two nodes run it (or
// start) at the same moment against one fresh PostgreSQL schema; on the embedded engine it creates
// the database in LATCHKEY_DATA_DIR.

const PG_ONLY =
  BACKEND === 'external'
    ? false
    : 'PostgreSQL only: concurrent migrators need a shared server (runs on the external backend)';

let dir: string;
const schemas: string[] = [];
let neighbour: TestStorage | null = null;

before(async () => {
  ensureBuilt();
  dir = tempDir('migrate');
  // A migrated schema beside the fresh ones: the migrator must not take its tables for ours.
  if (BACKEND === 'external') neighbour = await openTestStorage();
});
after(async () => {
  await killAll();
  await neighbour?.close();
  if (schemas.length) {
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    for (const s of schemas) await dropSchema(admin, s);
    await admin.end();
  }
  removeDir(dir);
});

async function freshSchema(): Promise<{ schema: string; url: string }> {
  const schema = `t_mig_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  schemas.push(schema);
  return { schema, url: withSearchPath(process.env.DATABASE_URL!, schema) };
}

async function appliedIn(schema: string): Promise<Record<string, number>> {
  const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await c.connect();
  try {
    const { rows } = await c.query(
      `select name, count(*)::int as n from ${schema}.latchkey_migrations group by name order by name`,
    );
    return Object.fromEntries(rows.map((r: { name: string; n: number }) => [r.name, r.n]));
  } finally {
    await c.end();
  }
}

const once = () => Object.fromEntries(migrationNames().map((n) => [n, 1]));

describe('latchkey-server migrate on PostgreSQL', () => {
  it(
    'two concurrent migrate processes on one fresh schema both exit 0, each migration applied once',
    {
      skip: PG_ONLY,
    },
    async () => {
      const { schema, url } = await freshSchema();
      const env = { DATABASE_URL: url, LATCHKEY_DATA_DIR: join(dir, 'unused') };
      const [a, b] = await Promise.all([
        spawnServer({ command: 'migrate', cwd: dir, env }),
        spawnServer({ command: 'migrate', cwd: dir, env }),
      ]);
      const [ea, eb] = await Promise.all([a.exited, b.exited]);
      assert.deepEqual(ea, { code: 0, signal: null }, a.stderr() + a.stdout());
      assert.deepEqual(eb, { code: 0, signal: null }, b.stderr() + b.stdout());
      assert.deepEqual(await appliedIn(schema), once());
      // Exactly one of them applied the migrations; the other found the schema up to date.
      const said = [a.stdout(), b.stdout()].map((o) =>
        o.includes('"msg":"migrations applied"')
          ? 'applied'
          : o.includes('database is up to date')
            ? 'up to date'
            : o,
      );
      assert.deepEqual(said.sort(), ['applied', 'up to date']);

      const again = await spawnServer({ command: 'migrate', cwd: dir, env });
      assert.deepEqual(await again.exited, { code: 0, signal: null });
      assert.match(again.stdout(), /database is up to date/);
      assert.deepEqual(await appliedIn(schema), once());
    },
  );

  it(
    'two nodes starting at once on one fresh schema both serve, migrations applied once',
    {
      skip: PG_ONLY,
    },
    async () => {
      const { schema, url } = await freshSchema();
      const env = {
        DATABASE_URL: url,
        REDIS_URL: process.env.REDIS_URL ?? '',
        LATCHKEY_DATA_DIR: join(dir, 'nodes'),
      };
      const nodes = await Promise.all([spawnServer({ cwd: dir, env }), spawnServer({ cwd: dir, env })]);
      await Promise.all(nodes.map((n) => n.waitReady()));
      assert.deepEqual(await appliedIn(schema), once());
      for (const n of nodes) {
        n.proc.kill('SIGTERM');
        assert.deepEqual(await n.exited, { code: 0, signal: null });
      }
    },
  );

  it('an unreachable DATABASE_URL makes migrate exit non-zero without echoing the password', async () => {
    const m = await spawnServer({
      command: 'migrate',
      cwd: dir,
      env: {
        DATABASE_URL: 'postgres://latchkey:hunter2-secret@127.0.0.1:1/nowhere',
        LATCHKEY_DATA_DIR: join(dir, 'unused'),
      },
    });
    const exit = await m.exited;
    assert.notEqual(exit.code, 0);
    assert.ok(!`${m.stdout()}${m.stderr()}`.includes('hunter2-secret'));
  });
});

describe('latchkey-server migrate on the embedded engine', () => {
  it('creates the database in LATCHKEY_DATA_DIR, applies every migration, and is idempotent', async () => {
    const dataDir = join(dir, 'embedded');
    const env = { LATCHKEY_DATA_DIR: dataDir };
    const first = await spawnServer({ command: 'migrate', cwd: dir, env });
    assert.deepEqual(await first.exited, { code: 0, signal: null }, first.stderr());
    assert.ok(existsSync(join(dataDir, 'pgdata', 'PG_VERSION')), 'the PGlite data folder exists');
    assert.match(first.stdout(), /"msg":"migrations applied"/);

    const second = await spawnServer({ command: 'migrate', cwd: dir, env });
    assert.deepEqual(await second.exited, { code: 0, signal: null }, second.stderr());
    assert.match(second.stdout(), /database is up to date/);

    const storage = await openStorage({ databaseUrl: null, dataDir });
    try {
      const rows = await storage.db
        .selectFrom('latchkey_migrations' as never)
        .select(['name' as never])
        .execute();
      assert.deepEqual(rows.map((r) => (r as { name: string }).name).sort(), migrationNames().sort());
    } finally {
      await storage.close();
    }
  });
});
