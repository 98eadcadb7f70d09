// The embedded server's memory and start-up time, against node-oidc-provider started the same way
// (same machine, same run): resident memory once ready, after the first start (which creates the
// database) and after a restart on the same data folder, and the time from spawn to /healthz.
// Goals (issue: token-endpoint performance): < 250 MB after restart, /healthz in < 2 s on restart.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, serverCommand } from './lib.mjs';

const root = new URL('..', import.meta.url).pathname;

/** Resident memory of a process and its threads, in MB (Linux). */
function rssMb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Spawns `args`, waits for `url` to answer 200; returns the time it took and the process. */
async function startAndTime(args, env, url) {
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: 'ignore',
  });
  let exited = null;
  child.once('exit', (code) => (exited = code));
  for (;;) {
    if (exited !== null) throw new Error(`${args.join(' ')} exited with ${exited}`);
    try {
      if ((await fetch(url)).ok) break;
    } catch {
      // not listening yet
    }
    if (performance.now() - started > 300_000) throw new Error(`${url} never answered`);
    await new Promise((r) => setTimeout(r, 10));
  }
  const ms = performance.now() - started;
  // Let start-up work that runs after the first answer (key rotation, workers) settle.
  await new Promise((r) => setTimeout(r, 1_000));
  const rss = rssMb(child.pid);
  const stop = () =>
    new Promise((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
  return { ms, rss, stop };
}

async function latchkey(dataDir) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  return startAndTime(
    serverCommand(),
    {
      PORT: String(port),
      PUBLIC_URL: url,
      LATCHKEY_DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      DATABASE_URL: '',
      REDIS_URL: '',
    },
    `${url}/healthz`,
  );
}

async function peer() {
  const port = await freePort();
  return startAndTime(
    [join(root, 'bench/peer/oidc-provider.mjs'), String(port)],
    { NODE_ENV: 'production', RESOURCE: 'https://api.example.com/', RS_SECRET: 'bench-secret-bench-secret' },
    `http://127.0.0.1:${port}/.well-known/openid-configuration`,
  );
}

console.log('bench/memory-startup');
const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-bench-memory-'));
try {
  const first = await latchkey(dataDir);
  await first.stop();
  const again = await latchkey(dataDir);
  await again.stop();
  const p = await peer();
  await p.stop();
  const row = (label, r) =>
    `${label.padEnd(34)} ready in ${(r.ms / 1000).toFixed(2).padStart(6)} s   RSS ${r.rss.toFixed(0).padStart(5)} MB`;
  console.log(row('latchkey, first start', first));
  console.log(row('latchkey, restart', again));
  console.log(row('oidc-provider (in memory)', p));
  console.log(
    `restart: ${(again.ms / 1000).toFixed(2)} s (goal < 2 s: ${again.ms < 2000 ? 'met' : 'NOT met'}), ` +
      `${again.rss.toFixed(0)} MB (goal < 250 MB: ${again.rss < 250 ? 'met' : 'NOT met'}); ` +
      `RSS ${(again.rss / p.rss).toFixed(1)} × oidc-provider's, start ${(again.ms / p.ms).toFixed(1)} × its`,
  );
  console.log(
    JSON.stringify({
      bench: 'memory-startup',
      first: { ms: first.ms, rss_mb: first.rss },
      restart: { ms: again.ms, rss_mb: again.rss },
      peer: { ms: p.ms, rss_mb: p.rss },
    }),
  );
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
