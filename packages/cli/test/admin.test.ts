import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  BACKEND,
  DEFAULT_PASSWORD,
  openCache,
  openStorage,
  openTestStorage,
  PUBLIC_URL,
  testServer,
  type TestStorage,
  uniqueEmail,
} from '@latchkey/server/testing';
import { assertNoStack, json, ROOT, run, stopAll, tempHome } from './helpers.js';

// `latchkey admin bootstrap` on the server's machine: it runs the real `latchkey-server admin
// bootstrap` (through LATCHKEY_SERVER_BIN) against the server's own database, and prints a fresh
// one-time link while no instance admin exists — the way back in when the start-up link was
// missed, or when someone signed up before the operator.

const h = tempHome();
const dataDir = join(h.home, 'data');
/** The server program as an operator runs it, here from its TypeScript entry point. */
const serverBin = join(h.home, 'latchkey-server');
writeFileSync(
  serverBin,
  `#!/bin/sh\nexec "${process.execPath}" --conditions=latchkey-source --import tsx "${join(ROOT, 'packages/server/src/main.ts')}" "$@"\n`,
);
chmodSync(serverBin, 0o755);
const embeddedEnv = {
  PUBLIC_URL,
  LATCHKEY_DATA_DIR: dataDir,
  LATCHKEY_SERVER_BIN: serverBin,
  LOG_LEVEL: 'silent',
};
/** On the external backend the server's database is a PostgreSQL schema of its own. */
let external: TestStorage | null = null;
let env: Record<string, string> = embeddedEnv;
/** A bootstrap starts the server program and, on a fresh folder, creates the embedded database. */
const BOOTSTRAP_TIMEOUT_MS = 240_000;
const lk = (...args: string[]) => run(args, { home: h.home, env, timeoutMs: BOOTSTRAP_TIMEOUT_MS });

before(async () => {
  if (BACKEND !== 'external') return;
  external = await openTestStorage();
  env = { ...embeddedEnv, DATABASE_URL: external.databaseUrl! };
});

after(async () => {
  stopAll();
  await external?.close();
  h.cleanup();
});

/** An in-process Latchkey over the same database (the CLI's process is done with it). */
async function withServer<T>(fn: (t: Awaited<ReturnType<typeof testServer>>) => Promise<T>): Promise<T> {
  if (external) {
    const t = await testServer({ env: { PUBLIC_URL }, storage: external });
    try {
      return await fn(t);
    } finally {
      await t.close();
    }
  }
  const storage = await openStorage({ databaseUrl: null, dataDir });
  const cache = await openCache({ redisUrl: null });
  const t = await testServer({
    env: { PUBLIC_URL },
    storage: {
      storage,
      cache,
      databaseUrl: null,
      redisUrl: null,
      redisPrefix: null,
      close: async () => {},
    },
  });
  try {
    return await fn(t);
  } finally {
    await t.close();
    await cache.close();
    await storage.close();
  }
}

describe('latchkey admin bootstrap', () => {
  let link: string;

  it('prints a fresh one-time link each run while no instance admin exists, even after a sign-up', async () => {
    const first = await lk('admin', 'bootstrap');
    assert.equal(first.code, 0, first.stderr);
    const m = /(\S+\/setup\?token=\S+)/.exec(first.stdout);
    assert.ok(m?.[1]?.startsWith(`${PUBLIC_URL}/setup?token=`), first.stdout);

    // Someone signs up before the operator opens it: that does not end setup.
    await withServer(async (t) => {
      await t.client().signup();
    });
    const second = await lk('admin', 'bootstrap', '--json');
    assert.equal(second.code, 0, second.stderr);
    link = json<{ setup_url: string }>(second).setup_url;
    assert.ok(link.startsWith(`${PUBLIC_URL}/setup?token=`), link);
    assert.notEqual(link, m?.[1], 'a new link each run');
  });

  it('the printed link makes an instance admin once; then bootstrap refuses with admin_exists', async () => {
    const path = link.slice(PUBLIC_URL.length);
    await withServer(async (t) => {
      const c = t.client();
      assert.equal((await c.get(path)).statusCode, 200);
      const token = new URL(link).searchParams.get('token')!;
      const res = await c.req({
        method: 'POST',
        url: '/setup',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          token,
          email: uniqueEmail('operator'),
          name: 'Operator',
          password: DEFAULT_PASSWORD,
          org_name: 'Operations',
        }).toString(),
      });
      assert.equal(res.statusCode, 303, res.body);
      assert.equal((await c.get('/api/v1/admin/signup-policy')).statusCode, 200, 'an instance admin');
      assert.equal((await t.client().get(path)).statusCode, 404, 'single use');
    });

    const r = await lk('admin', 'bootstrap', '--json');
    assert.equal(r.code, 1, r.stderr);
    assert.equal(json<{ error: { code: string } }>(r).error.code, 'admin_exists');
    assert.doesNotMatch(r.stdout + r.stderr, /setup\?token=/);
    assertNoStack(r);
  });

  it('refuses while a server holds the embedded database, and says where the server program is missing', async () => {
    const fresh = tempHome();
    try {
      const dir = join(fresh.home, 'data');
      // A live process (this one) holds the data folder, as a running server does.
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'server.pid'), String(process.pid));
      const busy = await run(['admin', 'bootstrap', '--json'], {
        home: fresh.home,
        env: { ...embeddedEnv, LATCHKEY_DATA_DIR: dir },
      });
      assert.equal(busy.code, 1, busy.stderr);
      assert.equal(json<{ error: { code: string } }>(busy).error.code, 'database_in_use');
      assertNoStack(busy);
    } finally {
      fresh.cleanup();
    }

    const missing = await run(['admin', 'bootstrap'], {
      home: h.home,
      env: { ...embeddedEnv, LATCHKEY_SERVER_BIN: join(h.home, 'no-such-program') },
    });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /not found/);
    assert.match(missing.stderr, /LATCHKEY_SERVER_BIN/);
    assertNoStack(missing);
  });
});
