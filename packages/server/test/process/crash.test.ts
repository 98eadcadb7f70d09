import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { openStorage, type Storage } from '../../src/db/connection.js';
import { DEFAULT_PASSWORD, uniqueEmail } from '../helpers/harness.js';
import { BACKEND, openTestStorage, type TestStorage } from '../helpers/storage.js';
import { type Child, ensureBuilt, killAll, randomIp, removeDir, spawnServer, tempDir } from './proc.js';

// kill -9 of the real server in the middle of many concurrent sign-ups leaves, for every email,
// either a whole account (user + personal org + owner membership + session + audit) or nothing;
// every sign-up that was answered 201 survives; and the server starts again on what is left.
// Embedded: the PGlite data folder is reopened after the kill (PGlite runs WAL recovery).

const WORKERS = 12;
/** Kill once this many sign-ups were answered, so that the kill lands with a dozen in flight. */
const KILL_AFTER = 25;

let dir: string;
let external: TestStorage | null = null;

before(async () => {
  ensureBuilt();
  dir = tempDir('crash');
  if (BACKEND === 'external') external = await openTestStorage();
});
after(async () => {
  await killAll();
  await external?.close();
  removeDir(dir);
});

function serverEnv(): Record<string, string> {
  return {
    LATCHKEY_DATA_DIR: join(dir, 'data'),
    TRUST_PROXY: 'true',
    LOG_LEVEL: 'warn',
    ...(external ? { DATABASE_URL: external.databaseUrl!, REDIS_URL: external.redisUrl! } : {}),
  };
}

interface Run {
  acked: string[];
  sent: number;
  cutOff: number;
  other: string[];
}

/** Signs up unique people from WORKERS concurrent loops until the server dies under them. */
async function signupStorm(child: Child, onAck: (n: number) => void): Promise<Run> {
  const run: Run = { acked: [], sent: 0, cutOff: 0, other: [] };
  let dead = false;
  void child.exited.then(() => (dead = true));
  const worker = async (w: number) => {
    for (let i = 0; !dead; i++) {
      const email = uniqueEmail(`crash${w}x${i}`);
      run.sent++;
      try {
        const res = await fetch(`${child.url}/api/auth/signup`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': randomIp() },
          body: JSON.stringify({ email, password: DEFAULT_PASSWORD, name: `Crash ${w} ${i}` }),
        });
        if (res.status === 201) {
          run.acked.push(email);
          onAck(run.acked.length);
        } else run.other.push(`${res.status} ${await res.text()}`);
      } catch {
        run.cutOff++; // the connection died with the server
      }
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
  return run;
}

async function accountInvariants(db: Storage['db']) {
  const { rows } = await sql<Record<string, number | string>>`
    select
      (select count(*) from users)::int as users,
      (select count(*) from orgs)::int as orgs,
      (select count(*) from memberships)::int as memberships,
      (select count(*) from users u where (select count(*) from memberships m where m.user_id = u.id and m.role = 'owner') <> 1)::int as users_without_exactly_one_owned_org,
      (select count(*) from users u where (select count(*) from memberships m where m.user_id = u.id) <> 1)::int as users_with_other_memberships,
      (select count(*) from orgs o where not exists (select 1 from memberships m where m.org_id = o.id and m.role = 'owner'))::int as orgs_without_owner,
      (select count(*) from users u where not exists (select 1 from sessions s where s.user_id = u.id))::int as users_without_session,
      (select count(*) from users u where not exists (select 1 from audit_events a where a.target = 'user:' || u.id::text and a.action = 'user.signup'))::int as users_without_signup_audit`.execute(
    db,
  );
  return Object.fromEntries(Object.entries(rows[0]!).map(([k, v]) => [k, Number(v)]));
}

describe('kill -9 of the server in the middle of sign-ups', () => {
  it('leaves whole accounts or none, keeps every acknowledged one, and starts again', async (ctx) => {
    const child = await spawnServer({ cwd: dir, env: serverEnv() });
    await child.waitReady();
    const run = await signupStorm(child, (n) => {
      if (n === KILL_AFTER) child.proc.kill('SIGKILL');
    });
    const exit = await child.exited;
    assert.equal(exit.signal, 'SIGKILL');
    assert.deepEqual(run.other, [], 'every answered sign-up was a 201');
    ctx.diagnostic(
      `sent ${run.sent} sign-ups; ${run.acked.length} answered 201, ${run.cutOff} cut off by the kill`,
    );
    assert.ok(run.cutOff > 0, 'the kill landed with sign-ups in flight');

    // Reopen what the dead server left: the PGlite folder itself, or the PostgreSQL schema.
    const storage = external
      ? external.storage
      : await openStorage({ databaseUrl: null, dataDir: join(dir, 'data') });
    try {
      const inv = await accountInvariants(storage.db);
      ctx.diagnostic(`after the kill: ${JSON.stringify(inv)}`);
      assert.equal(inv.users_without_exactly_one_owned_org, 0);
      assert.equal(inv.users_with_other_memberships, 0);
      assert.equal(inv.orgs_without_owner, 0);
      assert.equal(inv.users_without_session, 0);
      assert.equal(inv.users_without_signup_audit, 0);
      assert.equal(inv.orgs, inv.users);
      assert.equal(inv.memberships, inv.users);
      assert.ok(
        inv.users! >= run.acked.length && inv.users! <= run.sent,
        'no more accounts than sign-ups sent',
      );
      const emails = new Set(
        (await storage.db.selectFrom('users').select('email').execute()).map((r) => r.email),
      );
      const lost = run.acked.filter((e) => !emails.has(e));
      assert.deepEqual(lost, [], 'sign-ups answered 201 before the kill are durable');
    } finally {
      if (!external) await storage.close();
    }

    // The server starts again on the same data and serves. The sign-ups made no instance admin,
    // so it prints a fresh setup link again.
    const again = await spawnServer({ cwd: dir, env: serverEnv() });
    await again.waitReady();
    await again.waitForOutput(/\/setup\?token=/);
    const signin = await fetch(`${again.url}/api/auth/signin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': randomIp() },
      body: JSON.stringify({ email: run.acked[0], password: DEFAULT_PASSWORD }),
    });
    assert.equal(signin.status, 200);
    again.proc.kill('SIGTERM');
    assert.deepEqual(await again.exited, { code: 0, signal: null });
  });
});
