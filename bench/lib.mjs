// Shared bench helpers: start a real Latchkey process on loopback, sign up, and measure routes with
// autocannon. Every bench compares against a baseline route measured on the same server in the same
// run, and prints ratios: absolute numbers on a shared machine mean little.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { SERVER_NODE_ARGS } from '../scripts/server-node-args.mjs';

const root = new URL('..', import.meta.url).pathname;
export const DURATION_S = Number(process.env.BENCH_SECONDS ?? 6);
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/**
 * The command line of the built server, as `npm start` runs it (`scripts/server-node-args.mjs`);
 * BENCH_NODE_ARGS come after those flags, so they can override them.
 */
export const serverCommand = () => [
  ...SERVER_NODE_ARGS,
  ...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
  join(root, 'packages/server/dist/bundle/main.js'),
  'start',
];

/** Starts the built server with its own embedded database; `stop()` kills it and removes its data. */
export async function startServer(env = {}) {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-bench-'));
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, serverCommand(), {
    env: {
      ...process.env,
      // Embedded by default; BENCH_DATABASE_URL / BENCH_REDIS_URL measure the production shape.
      DATABASE_URL: process.env.BENCH_DATABASE_URL ?? '',
      REDIS_URL: process.env.BENCH_REDIS_URL ?? '',
      PORT: String(port),
      PUBLIC_URL: url,
      LATCHKEY_DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      // The general limiter stays on (its cost is part of every request) but cannot bind here.
      API_RATE_LIMIT: '100000000',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const stop = () => {
    // Profiling (BENCH_NODE_ARGS=--cpu-prof) needs a clean exit to write its profile.
    child.kill(process.env.BENCH_NODE_ARGS ? 'SIGTERM' : 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.once('exit', stop);
  let exited = null;
  child.once('exit', (code) => {
    exited = code;
  });
  // Up to five minutes: a first start creates the database, which is slow on a busy machine.
  for (let i = 0; i < 3000 && exited === null; i++) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) return { url, stop, dataDir };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  stop();
  throw new Error(exited === null ? 'the server did not become ready' : `the server exited with ${exited}`);
}

/** Signs a fresh person up; returns the session cookie. */
export async function signup(url) {
  const res = await fetch(`${url}/api/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: url },
    body: JSON.stringify({
      email: `bench-${Date.now()}@example.com`,
      password: 'a sturdy bench passphrase',
      name: 'Bench',
    }),
  });
  if (res.status !== 201) throw new Error(`signup: ${res.status} ${await res.text()}`);
  const cookie = res.headers.get('set-cookie')?.split(';')[0];
  if (!cookie) throw new Error('signup set no cookie');
  return cookie;
}

/**
 * Proves the address of the person `cookie` signed up, through the link the server wrote to its
 * dev outbox (an unproven account cannot mint tokens).
 */
export async function verifyEmail(url, dataDir, cookie) {
  const outbox = join(dataDir, 'outbox');
  let token = null;
  for (let i = 0; i < 50 && !token; i++) {
    for (const f of readdirSync(outbox, { withFileTypes: true }).filter((e) => e.name.endsWith('.eml'))) {
      // Undo quoted-printable soft line breaks and the encoded '=' so the link reads whole.
      const text = readFileSync(join(outbox, f.name), 'utf8')
        .replace(/=\r?\n/g, '')
        .replace(/=3D/g, '=');
      token = /\/verify-email\?token=([A-Za-z0-9_-]+)/.exec(text)?.[1] ?? token;
    }
    if (!token) await new Promise((r) => setTimeout(r, 100));
  }
  if (!token) throw new Error('no verification mail in the outbox');
  const res = await fetch(`${url}/verify-email`, {
    method: 'POST',
    headers: { cookie, origin: url, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
  });
  if (res.status !== 200) throw new Error(`verify-email: ${res.status}`);
}

/** Runs autocannon against one route; fails loudly if any answer is not the expected status. */
export async function measure(url, path, headers = {}, seconds = DURATION_S) {
  const result = await autocannon({ url: url + path, connections: CONNECTIONS, duration: seconds, headers });
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) throw new Error(`${path}: ${bad} failed requests of ${result.requests.total}`);
  return { rps: result.requests.average, p99: result.latency.p99 };
}

/** Rounds of `compare`: each is baseline, target, target, baseline (ABBA). */
const COMPARE_ROUNDS = Number(process.env.BENCH_COMPARE_ROUNDS ?? 3);

/**
 * The target against the baseline on the same server, in `COMPARE_ROUNDS` rounds of ABBA chunks of
 * half `DURATION_S` each: a burst of load from elsewhere on the machine then lands on both sides
 * instead of on one long run of either. Each side's figures are the means of its chunks.
 */
export async function compare(url, target, baseline) {
  await measure(url, target.path, target.headers, 2);
  await measure(url, baseline.path, baseline.headers, 2);
  const chunk = Math.max(1, DURATION_S / 2);
  const runs = { target: [], baseline: [] };
  for (let round = 0; round < COMPARE_ROUNDS; round++) {
    for (const side of ['baseline', 'target', 'target', 'baseline']) {
      const r = side === 'target' ? target : baseline;
      runs[side].push(await measure(url, r.path, r.headers, chunk));
    }
  }
  const mean = (ms) => ({
    rps: ms.reduce((n, m) => n + m.rps, 0) / ms.length,
    p99: ms.reduce((n, m) => n + m.p99, 0) / ms.length,
  });
  const t = mean(runs.target);
  const base = mean(runs.baseline);
  // autocannon's latencies are whole milliseconds: below 1 ms both count as 1 (equal at that resolution).
  const p99Ratio = Math.max(t.p99, 1) / Math.max(base.p99, 1);
  return { target: t, baseline: base, rpsRatio: t.rps / base.rps, p99Ratio };
}

export function row(label, m) {
  return `${label.padEnd(34)} ${m.rps.toFixed(0).padStart(9)} req/s   p99 ${String(m.p99.toFixed(1)).padStart(6)} ms`;
}

/** Starts node-oidc-provider (bench/peer/oidc-provider.mjs) in its own process on loopback. */
export async function startPeer(env = {}) {
  const port = await freePort();
  const child = spawn(process.execPath, [join(root, 'bench/peer/oidc-provider.mjs'), String(port)], {
    env: { ...process.env, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const stop = () => child.kill('SIGKILL');
  process.once('exit', stop);
  await new Promise((resolve, reject) => {
    child.stdout.once('data', resolve);
    child.once('exit', (code) => reject(new Error(`oidc-provider exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, stop };
}

/** Writes a latchkey.toml into a fresh folder; returns its path. */
export function writeConfig(toml) {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-config-'));
  const path = join(dir, 'latchkey.toml');
  writeFileSync(path, toml);
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return path;
}

/**
 * POSTs each of `bodies` once (form-encoded) with autocannon: a fixed amount of work, since codes
 * and refresh tokens are single-use. Fails loudly on any non-2xx answer. `onBody(text)` sees each
 * 2xx response body (e.g. to keep the refresh tokens an exchange run hands out).
 */
export async function measureForms(url, path, bodies, headers = {}, onBody = null) {
  let i = 0;
  const started = performance.now();
  // autocannon ends a fixed-amount run on its next one-second tick: time the responses instead.
  let last = started;
  const result = await autocannon({
    url: url + path,
    connections: CONNECTIONS,
    amount: bodies.length,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        setupRequest: (req) => ({ ...req, body: bodies[i++ % bodies.length] }),
        onResponse: (status, body) => {
          last = performance.now();
          if (onBody && status >= 200 && status < 300) onBody(body);
        },
      },
    ],
  });
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) throw new Error(`${path}: ${bad} failed requests of ${result.requests.total}`);
  return { rps: result.requests.total / ((last - started) / 1000), p99: result.latency.p99 };
}

/** Runs `fn` over `items` with at most `n` at once, keeping order. */
export async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const k = next++;
        out[k] = await fn(items[k], k);
      }
    }),
  );
  return out;
}

/**
 * A fresh PostgreSQL database named `name` on the server `admin` points at: its URL, and a cleanup
 * that drops it (and closes the admin connection).
 */
export async function createDatabase(admin, name) {
  const { default: pg } = await import('pg');
  const root = new pg.Client({ connectionString: admin });
  await root.connect();
  await root.query(`create database ${name}`);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    cleanup: async () => {
      await root.query(`drop database if exists ${name} with (force)`);
      await root.end();
    },
  };
}
