import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_PASSWORD, uniqueEmail } from '../helpers/harness.js';
import { BACKEND, openTestStorage, type TestStorage } from '../helpers/storage.js';
import { type Child, ensureBuilt, killAll, randomIp, removeDir, spawnServer, tempDir } from './proc.js';

// The real server, as an operator meets it: the first start prints the URL and a one-time setup
// link that creates the owner; SIGTERM lets in-flight requests finish and exits 0; a restart on
// the same data is ready and prints no new setup link.

let dir: string;
let external: TestStorage | null = null;
let port: number | undefined;

before(async () => {
  ensureBuilt();
  dir = tempDir('lifecycle');
  if (BACKEND === 'external') external = await openTestStorage();
});
after(async () => {
  await killAll();
  await external?.close();
  removeDir(dir);
});

function env(): Record<string, string> {
  return {
    LATCHKEY_DATA_DIR: join(dir, 'data'),
    TRUST_PROXY: 'true',
    ...(external ? { DATABASE_URL: external.databaseUrl!, REDIS_URL: external.redisUrl! } : {}),
  };
}

async function start(): Promise<{ child: Child; ms: number }> {
  const t0 = performance.now();
  const child = await spawnServer({ cwd: dir, env: env(), ...(port ? { port } : {}) });
  port = child.port;
  await child.waitReady();
  return { child, ms: Math.round(performance.now() - t0) };
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : -1;
}

function countLines(text: string, needle: string): number {
  return text.split('\n').filter((l) => l.includes(needle)).length;
}

async function until(cond: () => boolean, what: () => string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`condition not met in ${timeoutMs} ms:\n${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A sign-up whose body arrives in two parts: in flight from the first byte until `finish()`. */
function slowSignup(url: string, email: string) {
  const body = JSON.stringify({ email, password: DEFAULT_PASSWORD, name: `Slow ${email}` });
  const cut = Math.floor(body.length / 2);
  let finish!: () => void;
  const done = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const u = new URL(url);
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method: 'POST',
        path: '/api/auth/signup',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'x-forwarded-for': randomIp(),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      },
    );
    req.on('error', reject);
    req.write(body.slice(0, cut));
    finish = () => req.end(body.slice(cut));
  });
  return { done, finish: () => finish() };
}

describe('the server process from first start to restart', () => {
  let setupLink: string;
  let owner: { email: string; cookie: string };

  it('first start prints the URL and a one-time setup link; the link creates the owner once', async (ctx) => {
    const { child, ms } = await start();
    ctx.diagnostic(
      `first start ready in ${ms} ms (${BACKEND}), resident memory ${rssMb(child.proc.pid!)} MB`,
    );
    assert.match(child.stdout(), new RegExp(`Latchkey is running at ${child.url}\\n`));
    setupLink = (await child.waitForOutput(/Create the first owner \(one-time link\): (\S+)/))[1]!;
    assert.ok(setupLink.startsWith(`${child.url}/setup?token=`), setupLink);

    const page = await fetch(setupLink);
    assert.equal(page.status, 200);
    assert.match(String(page.headers.get('content-type')), /^text\/html/);
    const html = await page.text();
    assert.match(html, /<form method="post" action="\/setup">/);
    assert.match(html, /name="password"/);

    const email = uniqueEmail('owner');
    const token = new URL(setupLink).searchParams.get('token')!;
    const form = new URLSearchParams({
      token,
      email,
      name: 'First Owner',
      password: DEFAULT_PASSWORD,
      org_name: 'First Org',
    });
    const post = (origin: string) =>
      fetch(`${child.url}/setup`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin },
        body: form.toString(),
      });
    assert.equal((await post('https://evil.example')).status, 403, 'a cross-site setup post is refused');
    const created = await post(child.url);
    assert.equal(created.status, 303);
    assert.equal(created.headers.get('location'), '/');
    const setCookie = created.headers.getSetCookie().find((c) => c.startsWith('lk_session='));
    assert.ok(setCookie, 'a session cookie is set');
    assert.match(setCookie, /HttpOnly/i);
    owner = { email, cookie: setCookie.split(';')[0]! };

    const me = await fetch(`${child.url}/api/v1/me`, { headers: { cookie: owner.cookie } });
    assert.equal(me.status, 200);
    const body = (await me.json()) as { user: { email: string }; org: { name: string; role: string } };
    assert.equal(body.user.email, email);
    assert.deepEqual([body.org.name, body.org.role], ['First Org', 'owner']);

    // Used: the link is dead, for reading and for posting.
    assert.equal((await fetch(setupLink)).status, 404);
    assert.equal((await post(child.url)).status, 400);

    child.proc.kill('SIGTERM');
    assert.deepEqual(await child.exited, { code: 0, signal: null });
  });

  it('SIGTERM lets in-flight requests finish with their normal answer, refuses new ones, and exits 0', async () => {
    const { child } = await start();
    // Requests that are in flight when the signal comes: slow bodies, plus ordinary sign-ups.
    const slow = [slowSignup(child.url, uniqueEmail('slow')), slowSignup(child.url, uniqueEmail('slow'))];
    // Distinct names: same-name sign-ups racing for one org slug is a separate bug (signup-race.test.ts).
    const quick = Array.from({ length: 6 }, (_, i) =>
      fetch(`${child.url}/api/auth/signup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': randomIp() },
        body: JSON.stringify({ email: uniqueEmail('quick'), password: DEFAULT_PASSWORD, name: `Quick ${i}` }),
      }).then(async (r) => ({ status: r.status, body: await r.text() })),
    );
    // Every request has reached the server (logged "incoming request") before the signal.
    await until(
      () => countLines(child.stdout(), '"url":"/api/auth/signup"') >= 8,
      () => child.stdout(),
    );
    child.proc.kill('SIGTERM');
    await child.waitForOutput(/shutting down: finishing in-flight requests/);

    // A request that arrives now is not served (no new connections, or 503 on an old one).
    const late = await fetch(`${child.url}/healthz`).then(
      (r) => r.status,
      () => 'refused',
    );
    assert.ok(late === 'refused' || late === 503, `a request after SIGTERM got ${late}`);

    for (const s of slow) s.finish();
    const answers = await Promise.all([...slow.map((s) => s.done), ...quick]);
    for (const a of answers) assert.equal(a.status, 201, a.body);
    assert.deepEqual(await child.exited, { code: 0, signal: null });
    assert.match(child.stdout(), /shut down cleanly/);
  });

  it('a restart on the same data is ready, prints no setup link, and the owner can sign in', async (ctx) => {
    const { child, ms } = await start();
    ctx.diagnostic(`restart ready in ${ms} ms (${BACKEND}), resident memory ${rssMb(child.proc.pid!)} MB`);
    assert.match(child.stdout(), /Latchkey is running at /);
    assert.doesNotMatch(child.stdout(), /setup\?token=/);
    assert.equal((await fetch(setupLink)).status, 404);
    // Sessions live in the database: the one made at setup survives the restarts.
    assert.equal((await fetch(`${child.url}/api/v1/me`, { headers: { cookie: owner.cookie } })).status, 200);
    const signin = await fetch(`${child.url}/api/auth/signin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': randomIp() },
      body: JSON.stringify({ email: owner.email, password: DEFAULT_PASSWORD }),
    });
    assert.equal(signin.status, 200);
    child.proc.kill('SIGTERM');
    assert.deepEqual(await child.exited, { code: 0, signal: null });
  });
});
