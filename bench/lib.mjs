// Shared bench helpers: start a real Latchkey process on loopback, sign up, and measure routes with
// autocannon. Every bench compares against a baseline route measured on the same server in the same
// run, and prints ratios: absolute numbers on a shared machine mean little.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';

const root = new URL('..', import.meta.url).pathname;
export const DURATION_S = Number(process.env.BENCH_SECONDS ?? 6);
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Starts the built server with its own embedded database; `stop()` kills it and removes its data. */
export async function startServer(env = {}) {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-bench-'));
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [join(root, 'packages/server/dist/main.js'), 'start'], {
    env: {
      ...process.env,
      DATABASE_URL: '',
      REDIS_URL: '',
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
    child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.once('exit', stop);
  let exited = null;
  child.once('exit', (code) => {
    exited = code;
  });
  for (let i = 0; i < 600 && exited === null; i++) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) return { url, stop };
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

/** Runs autocannon against one route; fails loudly if any answer is not the expected status. */
export async function measure(url, path, headers = {}, seconds = DURATION_S) {
  const result = await autocannon({ url: url + path, connections: CONNECTIONS, duration: seconds, headers });
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) throw new Error(`${path}: ${bad} failed requests of ${result.requests.total}`);
  return { rps: result.requests.average, p99: result.latency.p99 };
}

/** Baseline, target, baseline again: the target is compared with the mean of the two baselines. */
export async function compare(url, target, baseline) {
  await measure(url, target.path, target.headers, 2);
  await measure(url, baseline.path, baseline.headers, 2);
  const b1 = await measure(url, baseline.path, baseline.headers);
  const t = await measure(url, target.path, target.headers);
  const b2 = await measure(url, baseline.path, baseline.headers);
  const base = { rps: (b1.rps + b2.rps) / 2, p99: (b1.p99 + b2.p99) / 2 };
  return { target: t, baseline: base, rpsRatio: t.rps / base.rps, p99Ratio: t.p99 / Math.max(base.p99, 1) };
}

export function row(label, m) {
  return `${label.padEnd(34)} ${m.rps.toFixed(0).padStart(9)} req/s   p99 ${String(m.p99.toFixed(1)).padStart(6)} ms`;
}
